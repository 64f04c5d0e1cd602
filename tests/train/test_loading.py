"""Lean loading: rank 0 reads (or initialises) the weights once, the other ranks build on the meta device and
receive their shards; the sharded model equals the one a single process loads."""

import pytest
import torch
import torch.multiprocessing as mp

from dist_workers import free_port, lean_builds
from mmprolong.train import distributed as D
from mmprolong.train.config import parse_config
from mmprolong.train.loop import build
from mmprolong.train.model import build_model, preset_config

pytestmark = pytest.mark.slow   # several processes each: started first under xdist (tests/conftest.py)


def _single(model: dict):
    cfg = parse_config({"model": {**model, "attn_implementation": "sdpa", "dtype": "fp32"},
                        "data": {"max_length": 4096}, "parallel": {"grad_checkpointing": False}})
    lm = build(cfg, D.Layout(rank=0, world=1, sp=1, device=torch.device("cpu"))).lm
    return ({k: v.detach().clone() for k, v in lm.state_dict().items()},
            {k: b.detach().clone() for k, b in lm.named_buffers()})


def _check(tmp_path, model):
    ref_state, ref_bufs = _single(model)
    for r in range(2):
        got = torch.load(tmp_path / f"lean-rank{r}.pt")
        assert got["state"].keys() == ref_state.keys()
        for k in ref_state:
            assert torch.equal(got["state"][k], ref_state[k]), k  # the same bits: copied, never recomputed
        assert got["buffers"].keys() == ref_bufs.keys()
        for k in ref_bufs:
            assert torch.equal(got["buffers"][k], ref_bufs[k]), k  # rotary frequencies after to_empty


@pytest.fixture(scope="module")
def lean(tmp_path_factory):
    """Both lean builds in one pair of processes (torch and transformers started once per rank): the tiny preset,
    and a saved Hugging Face folder of tiny Qwen3-VL: name -> (the output folder of its ranks, model config)."""
    root = tmp_path_factory.mktemp("lean")
    torch.manual_seed(1)
    folder = root / "hf"
    build_model(preset_config("tiny-qwen3-vl")).save_pretrained(folder)
    runs = {"preset": (root / "preset", {"preset": "tiny-qwen2.5-vl"}),
            "folder": (root / "folder", {"path": str(folder), "tokenizer": "qwen3-vl", "rope_theta": None})}
    for out, _ in runs.values():
        out.mkdir()
    mp.spawn(lean_builds, args=(2, free_port(), [(str(out), m) for out, m in runs.values()]), nprocs=2)
    return runs


def test_preset_weights_from_rank0_equal_one_process(lean):
    _check(*lean["preset"])


def test_model_folder_read_once_equals_one_process(lean):
    """A saved Hugging Face folder: rank 0 loads it with transformers (key renames included), rank 1 reads no
    weight file."""
    _check(*lean["folder"])
