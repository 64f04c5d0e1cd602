"""`load(folder)`: a local Hugging Face model folder overrides the preset (pixel bounds, template, added tokens)."""

from __future__ import annotations

import json
import warnings

import pytest

from mmprolong.tokens import PRESETS, load
from mmprolong.tokens.hf_reference import build_image_processor


def _write(d, name, obj):
    (d / name).write_text(json.dumps(obj) if not isinstance(obj, str) else obj)


def test_folder_saved_by_transformers(tmp_path, hf_tok25, hf_processors):
    """A folder as transformers writes it (config, preprocessor config, tokenizer files, chat_template.jinja)."""
    from transformers import Qwen2_5_VLConfig

    hf_tok25.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_image_processor(PRESETS["qwen2.5-vl"].with_pixels(max_pixels=1003520)).save_pretrained(tmp_path)
    Qwen2_5_VLConfig().save_pretrained(tmp_path)
    c = load(str(tmp_path))
    assert (c.max_pixels, c.min_pixels, c.spec.patch_size) == (1003520, 3136, 14)
    assert c.name.startswith("qwen2.5-vl:")
    assert c.image_tokens(4000, 3000) == load("qwen2.5-vl", max_pixels=1003520).image_tokens(4000, 3000)
    msgs = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert c.encode_messages(msgs).input_ids == hf_tok25.apply_chat_template(msgs, tokenize=True, return_dict=False)
    # a token added to the saved tokenizer (transformers 5 keeps added tokens only in tokenizer.json)
    tj = json.loads((tmp_path / "tokenizer.json").read_text())
    tj["added_tokens"].append({**tj["added_tokens"][-1], "id": 151665, "content": "<|page_break|>"})
    (tmp_path / "tokenizer.json").write_text(json.dumps(tj))
    assert load(tmp_path).encode("a<|page_break|>b") == [64, 151665, 65]


def test_legacy_folder_min_max_pixels_and_added_tokens(tmp_path):
    """Older folders: min/max_pixels keys, added_tokens_decoder and chat_template in tokenizer_config.json."""
    _write(tmp_path, "config.json", {"model_type": "qwen2_vl"})
    _write(tmp_path, "preprocessor_config.json", {"min_pixels": 200704, "max_pixels": 401408, "patch_size": 14,
                                                  "merge_size": 2, "temporal_patch_size": 2})
    template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    added = {"151643": {"content": "<|endoftext|>"}, "151644": {"content": "<|im_start|>"},
             "151645": {"content": "<|im_end|>"}, "151665": {"content": "<|page_break|>"}}
    _write(tmp_path, "tokenizer_config.json", {"chat_template": template, "added_tokens_decoder": added})
    c = load(tmp_path)
    assert (c.min_pixels, c.max_pixels) == (200704, 401408)
    assert c.image_tokens(28, 28) == c.image_tokens(448, 448) == (448 // 28) ** 2
    assert c.encode("a<|page_break|>b")[1] == 151665
    assert c.render([{"role": "user", "content": "x"}]) == "<|im_start|>user\nx<|im_end|>\n"


def test_qwen3_folder_size_keys(tmp_path):
    _write(tmp_path, "config.json", {"model_type": "qwen3_vl"})
    _write(tmp_path, "preprocessor_config.json", {"size": {"longest_edge": 1048576, "shortest_edge": 65536},
                                                  "patch_size": 16, "merge_size": 2})
    c = load(tmp_path)
    assert (c.spec.patch_size, c.min_pixels, c.max_pixels) == (16, 65536, 1048576)
    assert c.image_tokens(2048, 2048) == 1024 // 32 * 1024 // 32


def test_load_overrides_and_errors(tmp_path):
    assert load("Qwen2.5-VL-7B").name == "qwen2.5-vl"
    assert load("qwen3-vl", max_pixels=65536 * 4).max_pixels == 65536 * 4
    with pytest.raises(ValueError, match="unknown model"):
        load("llama-3")
    _write(tmp_path, "config.json", {"model_type": "llava"})
    with pytest.raises(ValueError, match="unsupported model_type"):
        load(tmp_path)
