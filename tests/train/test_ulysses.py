import pytest
import torch
import torch.multiprocessing as mp

from helpers import assert_same
from dist_workers import free_port, runs
from mmprolong.train.lm import split_images
from mmprolong.train.ulysses import check_degree
from mmprolong.train.varlen import ATTN_NAME

pytestmark = pytest.mark.slow   # several processes each: started first under xdist (tests/conftest.py)


def test_degree_checks_for_qwen25_vl_7b():
    for ok in (1, 2, 4):
        check_degree(ok, 28, 4)
    with pytest.raises(ValueError, match=r"does not divide the 28 query heads.*\[1, 2, 4, 28\]"):
        check_degree(8, 28, 4)
    with pytest.raises(ValueError, match="neither divides nor is a multiple of the 4 KV heads"):
        check_degree(7, 28, 4)
    check_degree(8, 32, 4)  # KV heads replicated


def test_image_split_is_contiguous_and_balanced():
    assert split_images([16, 16, 16, 16], 2) == [(0, 2), (2, 4)]
    assert split_images([64, 4, 4], 2) == [(0, 1), (1, 3)]
    assert split_images([16], 2) == [(0, 0), (0, 1)] or split_images([16], 2) == [(0, 1), (1, 1)]
    assert split_images([], 2) == [(0, 0), (0, 0)]


# Every sequence-parallel case of this file, each a model of its own built from seed 0, run in ONE pair of processes
# (one start-up instead of one per case): (preset, attention inside Ulysses, name of the files the ranks save).
# The flash case runs last, so the stand-in it installs is never present for another case.
SP2_RUNS = [("tiny-qwen2.5-vl", "sdpa", "sdpa"), ("tiny-qwen2.5-vl", ATTN_NAME, ATTN_NAME),
            ("tiny-qwen3-vl", "sdpa", "qwen3-sdpa"), ("tiny-qwen2.5-vl", "flash_attention_2", "flash_attention_2")]


@pytest.fixture(scope="module")
def sp2(tmp_path_factory):
    """rank files of the SP2_RUNS over 2 ranks (Ulysses sp=2, FSDP-sharded): folder / f"{name}-rank{r}.pt"."""
    out = tmp_path_factory.mktemp("sp2")
    mp.spawn(runs, args=(2, free_port(), 2, str(out), SP2_RUNS), nprocs=2)
    return out


def test_sequence_parallel_2_equals_1(sp2, reference):
    """Ulysses over 2 ranks (FSDP-sharded), with sdpa + full packed mask (CPU default) and with per-document SDPA
    (the GPU default without flash-attn) inside, against one process without sequence parallelism."""
    ref_loss, ref = reference("tiny-qwen2.5-vl")
    for f in [sp2 / f"{a}-rank{r}.pt" for a in ("sdpa", ATTN_NAME) for r in range(2)]:
        got = torch.load(f)
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)


def test_sequence_parallel_2_equals_1_on_qwen3_vl(sp2, reference):
    """Qwen3-VL's text model builds its mask itself (it ignores a prepared mask mapping): the packed document mask
    must still reach the inner attention on the full sequence; deepstack rows follow each rank's shard."""
    ref_loss, ref = reference("tiny-qwen3-vl")
    for r in range(2):
        got = torch.load(sp2 / f"qwen3-sdpa-rank{r}.pt")
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)


def test_sequence_parallel_2_with_flash_inner_equals_1(sp2, reference):
    """SP 2 whose inner attention is flash_attention_2 (transformers' flash integration, served by an SDPA-backed
    stand-in registered where transformers looks flash kernels up by name): the inner call must load the kernel by
    the inner name, not by the Ulysses wrapper's registered name, and run varlen over the packed documents."""
    ref_loss, ref = reference("tiny-qwen2.5-vl")
    for r in range(2):
        got = torch.load(sp2 / f"flash_attention_2-rank{r}.pt")
        assert got["flash_calls"]["varlen"] > 0  # the packed documents went through the varlen kernel
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)
