import json

import pytest
from transformers import AutoModelForImageTextToText

from helpers import write_shards
from mmprolong.cli.main import main
from mmprolong.train.config import parse_config
from mmprolong.train.loop import lr_lambda, train


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    write_shards(d, 24, per_file=12)
    return d


def _cfg(shards, out, steps=4):
    return parse_config({
        "model": {"preset": "tiny-qwen2.5-vl", "dtype": "fp32"},
        "data": {"shards": [str(shards)], "max_length": 160},
        "optim": {"tokens_per_step": 160, "steps": steps, "lr": 2e-3, "min_lr": 2e-4},
        "parallel": {"loss_chunk": 64, "grad_checkpointing": False}, "output_dir": str(out), "save_every": 2,
        "export": False})


def _losses(out):
    return [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_cli_trains_checkpoints_and_exports(shards, tmp_path):
    out = tmp_path / "run"
    rc = main(["train", "--preset", "tiny-qwen2.5-vl", "--shards", str(shards), "--out", str(out), "--dtype", "fp32",
               "--max-length", "192", "--tokens-per-step", "384", "--steps", "3", "--lr", "3e-3", "--save-every", "2",
               "--no-progress"])
    assert rc == 0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert all(r["tokens"] <= 2 * 192 and r["tokens_per_s"] > 0 and r["peak_mem_gib"] > 0 for r in rows)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_00000002", "step_00000003"]
    m = AutoModelForImageTextToText.from_pretrained(out / "hf")
    assert m.config.text_config.rope_parameters["rope_theta"] == 4e6
    assert (out / "report.md").exists() and (out / "train.png").stat().st_size > 0


def test_stop_and_resume_reproduces_the_uninterrupted_losses(shards, tmp_path):
    whole = tmp_path / "whole"
    train(_cfg(shards, whole), progress=False)
    cut = tmp_path / "cut"
    s = train(_cfg(shards, cut), stop_after=3, progress=False)  # killed after step 3; last checkpoint is step 2
    assert s["step"] == 3 and not s["finished"]
    train(_cfg(shards, cut), progress=False)
    assert _losses(cut) == _losses(whole)
    assert [json.loads(x)["step"] for x in (cut / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--preset", "tiny-qwen2.5-vl", "--shards", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no training shards" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {preset: tiny-qwen2.5-vl}\nparallel: {sequence_parallel: 2}\n")
    assert main(["train", "--config", str(cfg), "--shards", "x"]) == 2
    assert "parallel.sequence_parallel: unknown key" in capsys.readouterr().err


def test_schedule_warmup_then_cosine_to_min():
    f = lr_lambda(100, 0.1, 0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.1)
    assert all(f(i) >= f(i + 1) for i in range(10, 100))


def test_bf16_without_fsdp_still_autocasts():
    """FSDP2's mixed-precision policy gives bf16 compute only when it shards; with parallel.fsdp off over several
    processes, a bf16 config must not silently train in fp32."""
    import torch

    from mmprolong.train.distributed import Layout
    from mmprolong.train.loop import use_autocast

    many = Layout(rank=0, world=2, sp=1, device=torch.device("cpu"))
    one = Layout(rank=0, world=1, sp=1, device=torch.device("cpu"))
    cfg = lambda **p: parse_config({"model": {"preset": "tiny-qwen2.5-vl"}, "parallel": p})  # noqa: E731
    assert use_autocast(cfg(fsdp=False), many) and use_autocast(cfg(), one)
    assert not use_autocast(cfg(), many)  # FSDP's MixedPrecisionPolicy casts
    assert not use_autocast(parse_config({"model": {"preset": "tiny-qwen2.5-vl", "dtype": "fp32"}}), one)
