"""The planner against measurement: peak bytes of live tensors (mmprolong.train.memtrack) during one forward +
backward of a packed sequence on CPU, at three lengths with checkpointing and one without, against
`plan(...).raw_gib` for the same setup (fp32 compute, fp32 weights and gradients, no optimizer). A small-vocabulary
Qwen2.5-VL shape (tests/train/planprobe.py) so that activations, not the vocabulary, make up the memory."""

import pytest
import torch

from planprobe import probe_config, probe_document
from mmprolong.train.lm import LongLM
from mmprolong.train.memtrack import PeakMemory
from mmprolong.train.model import build_model, enable_checkpointing
from mmprolong.train.pack import pack_samples
from mmprolong.train.plan import plan


def _measure(length: int, checkpointing: bool) -> tuple[float, float]:
    cfg = probe_config()
    torch.manual_seed(0)
    docs = [probe_document(length // 2, 2 * length + k) for k in range(2)]
    hf = build_model(cfg, torch.float32, "mmprolong_varlen_sdpa", "cpu")
    hf.train()
    hf.config.use_cache = False
    if checkpointing:
        enable_checkpointing(hf)
    lm = LongLM(hf, loss_chunk=4096)
    pk = pack_samples(docs, hf.model.get_rope_index)
    with PeakMemory(list(hf.parameters())) as pm:
        lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw).backward()
    image_fraction = sum(int(d.mm_token_type_ids.sum()) for d in docs) / length
    targets = sum(int((d.labels != -100).sum()) for d in docs)
    est = plan(cfg, "probe", length, gpus=1, checkpointing=checkpointing, image_fraction=image_fraction,
               target_fraction=targets / length, state_bytes=8, fsdp=False, act_bytes=4)
    return pm.peak_bytes, est.raw_gib * 2**30


@pytest.mark.slow
@pytest.mark.parametrize("length,checkpointing", [(2048, True), (4096, True), (8192, True), (2048, False)])
def test_plan_within_15_percent_of_measured_peak(length, checkpointing):
    measured, planned = _measure(length, checkpointing)
    assert abs(planned / measured - 1) <= 0.15, (measured / 2**20, planned / 2**20)


def test_peak_memory_counts_live_tensors():
    """The tracker's own contract: a baseline, a storage kept, a temporary freed, views not double-counted."""
    a = torch.zeros(1000)  # 4,000 B
    with PeakMemory([a]) as pm:
        b = torch.ones(2000)  # +8,000 kept
        c = torch.ones(3000) * 2  # the ones() temporary and the product: +12,000 +12,000, then the temporary goes
        del c
        v = b[:10].view(2, 5)  # a view: no new storage
        del v
    assert pm.baseline_bytes == 4000
    assert pm.peak_bytes == 4000 + 8000 + 12000 + 12000
    assert pm.current == 4000 + 8000
    del b
