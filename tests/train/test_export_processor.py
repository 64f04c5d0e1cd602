"""A model trained from a preset (random weights) exports a complete folder: weights, config and the family's
processor files, so transformers, vLLM, `mmprolong.tokens.load` and `eval --backend hf` all load it."""

from __future__ import annotations

import json

import pytest

from mmprolong.tokens import load
from mmprolong.train.checkpoint import write_processor_files


@pytest.mark.parametrize("model_type,preset", [("qwen2_5_vl", "qwen2.5-vl"), ("qwen3_vl", "qwen3-vl")])
def test_processor_files_make_the_export_loadable(tmp_path, model_type, preset):
    from transformers import AutoImageProcessor, AutoTokenizer

    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    write_processor_files(tmp_path, model_type)
    for name in ("preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (tmp_path / name).exists(), name

    counter, ref = load(str(tmp_path)), load(preset)
    msgs = [{"role": "user", "content": [{"type": "image", "width": 1190, "height": 1684},
                                         {"type": "text", "text": "Page 3: what is the total?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "4,210"}]}]
    assert counter.count_messages(msgs).total == ref.count_messages(msgs).total
    assert counter.min_pixels == ref.min_pixels and counter.max_pixels == ref.max_pixels

    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok("Hello <|image_pad|> 12").input_ids == ref.encode("Hello <|image_pad|> 12")
    assert AutoImageProcessor.from_pretrained(tmp_path) is not None


def test_unknown_family_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="model_type"):
        write_processor_files(tmp_path, "llama")
