"""The model folder every tool reads right: RoPE in both forms, bf16 weights, readable files, and any
intermediate checkpoint exported to the same folder (`mmprolong train export`)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForImageTextToText

from helpers import write_shards
from mmprolong.cli.main import main
from mmprolong.train.checkpoint import compat_config


def _tensors(folder) -> dict[str, torch.Tensor]:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            out.update({k: st.get_tensor(k) for k in st.keys()})
    return out


@pytest.mark.parametrize("rp", [
    {"rope_type": "default", "rope_theta": 4e6, "mrope_section": [16, 24, 24]},
    {"rope_type": "yarn", "rope_theta": 4e6, "factor": 4.0, "original_max_position_embeddings": 32768,
     "mrope_section": [16, 24, 24]},
    {"rope_type": "default", "rope_theta": 2e7, "mrope_section": [24, 20, 20], "mrope_interleaved": True},
])
def test_compat_config_writes_rope_both_ways(rp):
    cfg = {"model_type": "qwen2_5_vl", "dtype": "float32", "text_config": {"rope_parameters": rp,
                                                                           "max_position_embeddings": 131072}}
    out = compat_config(cfg, "bf16")
    tc = out["text_config"]
    assert tc["rope_parameters"] == rp                              # transformers 5
    assert tc["rope_theta"] == rp["rope_theta"]                     # transformers 4.x, vLLM
    assert tc["rope_scaling"] == {k: v for k, v in rp.items() if k != "rope_theta"}
    assert out["dtype"] == out["torch_dtype"] == tc["dtype"] == tc["torch_dtype"] == "bfloat16"
    assert "rope_theta" not in out and "rope_scaling" not in out  # transformers 5 would standardize them there


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    shards = tmp_path_factory.mktemp("shards")
    write_shards(shards, 12, per_file=12)
    out = tmp_path_factory.mktemp("run") / "run"
    rc = main(["train", "--preset", "tiny-qwen2.5-vl", "--shards", str(shards), "--out", str(out),
               "--max-length", "192", "--tokens-per-step", "192", "--steps", "2", "--save-every", "1",
               "--no-grad-checkpointing", "--no-progress"])
    assert rc == 0
    return out


def test_export_is_bf16_readable_and_read_with_the_extended_rope(run):
    hf = run / "hf"
    assert all((p.stat().st_mode & 0o777) == 0o644 for p in hf.iterdir())
    assert {t.dtype for t in _tensors(hf).values()} == {torch.bfloat16}
    cfg = json.loads((hf / "config.json").read_text())
    # what vLLM reads: the architecture, the text config's context length and RoPE
    assert cfg["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    tc = cfg["text_config"]
    assert tc["max_position_embeddings"] >= 192 and tc["rope_theta"] == 4e6
    assert tc["rope_parameters"]["rope_theta"] == 4e6 and tc["rope_scaling"]["mrope_section"] == [2, 3, 3]
    assert cfg["torch_dtype"] == "bfloat16"
    m = AutoModelForImageTextToText.from_pretrained(hf)
    assert m.dtype == torch.bfloat16 and m.config.text_config.rope_parameters["rope_theta"] == 4e6
    inv = m.model.language_model.rotary_emb.inv_freq.double()
    d = m.config.text_config.hidden_size // m.config.text_config.num_attention_heads
    want = 1.0 / 4e6 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    assert torch.allclose(inv, want, rtol=4 * torch.finfo(torch.float32).eps, atol=0)
    assert (hf / "tokenizer.json").exists() and (hf / "preprocessor_config.json").exists()


def test_train_export_turns_a_checkpoint_into_the_same_folder(run, tmp_path, capsys):
    last = run / "checkpoints" / "step_00000002"
    assert main(["train", "export", str(last), "--out", str(tmp_path / "hf2")]) == 0
    assert "exported" in capsys.readouterr().out
    a, b = _tensors(run / "hf"), _tensors(tmp_path / "hf2")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((run / "hf" / "config.json").read_text()) == json.loads((tmp_path / "hf2" / "config.json")
                                                                               .read_text())
    first = run / "checkpoints" / "step_00000001"                  # an intermediate step: other weights
    assert main(["train", "export", str(first), "--out", str(tmp_path / "hf1"), "--dtype", "fp32"]) == 0
    c = _tensors(tmp_path / "hf1")
    assert {t.dtype for t in c.values()} == {torch.float32}
    assert any(not torch.equal(c[k].to(torch.bfloat16), a[k]) for k in a)
    assert AutoConfig.from_pretrained(tmp_path / "hf1").text_config.rope_parameters["rope_theta"] == 4e6


def test_train_export_of_a_non_checkpoint_is_an_error(tmp_path, capsys):
    assert main(["train", "export", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a training checkpoint" in capsys.readouterr().err
