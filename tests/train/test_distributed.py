import pytest
import torch
import torch.multiprocessing as mp

from helpers import assert_same
from dist_workers import free_port, loss_and_grads

pytestmark = pytest.mark.slow   # several processes each: started first under xdist (tests/conftest.py)


def test_fsdp_over_two_processes_matches_one(tmp_path, reference):
    """Two data-parallel ranks, FSDP2 full sharding, one pack each: same loss and gradients as one process."""
    mp.spawn(loss_and_grads, args=(2, free_port(), 1, str(tmp_path)), nprocs=2)
    ref_loss, ref = reference("tiny-qwen2.5-vl")
    for r in range(2):
        got = torch.load(tmp_path / f"sdpa-rank{r}.pt")
        assert_same(got["loss"], ref_loss, "loss")
        for k in ref:
            assert_same(got["grads"][k], ref[k], k)
