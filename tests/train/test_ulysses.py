import pytest
import torch
import torch.multiprocessing as mp

from helpers import assert_same
from dist_workers import free_port, loss_and_grads, reference_loss_and_grads
from mmprolong.train.lm import split_images
from mmprolong.train.ulysses import check_degree
from mmprolong.train.varlen import ATTN_NAME


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


def test_sequence_parallel_2_equals_1(tmp_path):
    """Ulysses over 2 ranks (FSDP-sharded), with sdpa + full packed mask (CPU default) and with per-document SDPA
    (the GPU default without flash-attn) inside, against one process without sequence parallelism."""
    mp.spawn(loss_and_grads, args=(2, free_port(), 2, str(tmp_path), ("sdpa", ATTN_NAME)), nprocs=2)
    ref_loss, ref = reference_loss_and_grads()
    for f in [tmp_path / f"{a}-rank{r}.pt" for a in ("sdpa", ATTN_NAME) for r in range(2)]:
        got = torch.load(f)
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)


def test_sequence_parallel_2_equals_1_on_qwen3_vl(tmp_path):
    """Qwen3-VL's text model builds its mask itself (it ignores a prepared mask mapping): the packed document mask
    must still reach the inner attention on the full sequence; deepstack rows follow each rank's shard."""
    mp.spawn(loss_and_grads, args=(2, free_port(), 2, str(tmp_path), ("sdpa",), "tiny-qwen3-vl"), nprocs=2)
    ref_loss, ref = reference_loss_and_grads("tiny-qwen3-vl")
    for r in range(2):
        got = torch.load(tmp_path / f"sdpa-rank{r}.pt")
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)


def test_sequence_parallel_2_with_flash_inner_equals_1(tmp_path):
    """SP 2 whose inner attention is flash_attention_2 (transformers' flash integration, served by an SDPA-backed
    stand-in registered where transformers looks flash kernels up by name): the inner call must load the kernel by
    the inner name, not by the Ulysses wrapper's registered name, and run varlen over the packed documents."""
    mp.spawn(loss_and_grads, args=(2, free_port(), 2, str(tmp_path), ("flash_attention_2",)), nprocs=2)
    ref_loss, ref = reference_loss_and_grads()
    for r in range(2):
        got = torch.load(tmp_path / f"flash_attention_2-rank{r}.pt")
        assert got["flash_calls"]["varlen"] > 0  # the packed documents went through the varlen kernel
        assert_same(got["loss"], ref_loss, "loss")
        assert got["grads"].keys() == ref.keys()
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)
