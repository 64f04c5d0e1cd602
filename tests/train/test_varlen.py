import pytest
import torch
from transformers import AttentionInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from helpers import assert_same, chat
from mmprolong.train import varlen
from mmprolong.train.encode import encode_messages
from mmprolong.train.lm import LongLM, check_dense_mask
from mmprolong.train.model import build_model, preset_config
from mmprolong.train.pack import pack_samples
from mmprolong.train.varlen import (ATTN_NAME, FLEX_NAME, SDPA_NAME, VISION_SUFFIX, cu_seqlens_from_positions,
                                    document_bounds, packed_attention, pick_backend)


def test_document_bounds():
    assert document_bounds(torch.tensor([[0, 1, 2, 0, 1, 0]])) == [(0, 3), (3, 5), (5, 6)]
    assert cu_seqlens_from_positions(torch.tensor([3, 4, 0, 1])).tolist() == [0, 2, 4]


def _reference(q, k, v, lengths, causal):
    """float64 softmax attention inside each document, K/V heads shared by query-head groups."""
    g = q.shape[1] // k.shape[1]
    out, s = [], 0
    for n in lengths:
        qs, ks, vs = q[0, :, s:s + n], k[0, :, s:s + n].repeat_interleave(g, 0), v[0, :, s:s + n].repeat_interleave(g, 0)
        scores = qs @ ks.transpose(-1, -2) / q.shape[-1] ** 0.5
        if causal:
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        out.append(scores.softmax(-1) @ vs)
        s += n
    return torch.cat(out, dim=1).transpose(0, 1)[None]  # [1, L, H, D]


class _Module:
    is_causal = True


@pytest.mark.parametrize("lengths,causal", [([100, 150, 50], True), ([128, 256, 1], True),
                                            ([64] * 5 + [7], False), ([333], False)])
def test_flex_document_mask_equals_reference(lengths, causal):
    """FlexAttention with the block mask built from document ranges (short last block, block-aligned documents,
    one-token documents, vision-style windows without causality) equals per-document softmax in float64; GQA 4:2."""
    g = torch.Generator().manual_seed(sum(lengths))
    L = sum(lengths)
    q = torch.randn(1, 4, L, 16, generator=g, dtype=torch.float64)
    k, v = (torch.randn(1, 2, L, 16, generator=g, dtype=torch.float64) for _ in range(2))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    m = _Module()
    m.is_causal = causal
    with torch.no_grad():
        assert pick_backend(ATTN_NAME, q, k) == "flex"  # CPU without gradients: FlexAttention
        got, _ = packed_attention(m, q, k, v, cu_seq_lens_q=cu, cu_seq_lens_k=cu, implementation=FLEX_NAME)
        loop, _ = packed_attention(m, q, k, v, cu_seq_lens_q=cu, cu_seq_lens_k=cu, implementation=SDPA_NAME)
    ref = _reference(q, k, v, lengths, causal)
    torch.testing.assert_close(got, ref)  # float64 defaults (rtol 1e-7)
    torch.testing.assert_close(loop, ref)


def test_cpu_training_uses_sdpa_per_document():
    q = torch.randn(1, 4, 8, 16, requires_grad=True)
    assert pick_backend(ATTN_NAME, q, torch.randn(1, 2, 8, 16)) == "sdpa"  # FlexAttention has no CPU backward
    assert not varlen.varlen_usable(q, q)


def _samples(counter, processor):
    return [encode_messages(counter, processor, *chat(i, n)) for i, n in enumerate([1, 0, 2])]


def test_packed_attention_equals_block_diagonal_mask(counter, processor):
    """Whole model, forward and backward: our packed attention (text by position ids, vision by cu_seqlens) equals
    sdpa with transformers' dense block-diagonal mask."""
    samples = _samples(counter, processor)
    out = []
    for attn in ("sdpa", ATTN_NAME):
        torch.manual_seed(0)
        hf = build_model(preset_config("tiny-qwen2.5-vl"), attn_implementation=attn).double()
        assert hf.config.text_config._attn_implementation == attn
        lm = LongLM(hf, loss_chunk=16)
        pk = pack_samples(samples, hf.model.get_rope_index)
        loss = lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
        loss.backward()
        out.append((float(loss.detach()), {n: p.grad for n, p in lm.named_parameters() if p.grad is not None}))
    assert_same(out[0][0], out[1][0], "loss")
    for k in out[0][1]:
        assert_same(out[0][1][k], out[1][1][k], k)


@pytest.mark.parametrize("preset", ["tiny-qwen2.5-vl", "tiny-qwen3-vl"])
def test_vision_blocks_take_cu_seqlens_in_one_call(counter, processor, preset):
    """The vision tower's window and full blocks reach the packed attention once per block with their cu_seqlens
    (no Python loop per window), and the forward through FlexAttention (float64) equals sdpa."""
    from mmprolong.tokens import load
    from mmprolong.train.encode import image_processor_for

    if "qwen3" in preset:
        counter = load("qwen3-vl")
        processor = image_processor_for(counter)
    samples = _samples(counter, processor)
    config = preset_config(preset)
    losses = []
    for attn in ("sdpa", ATTN_NAME):
        torch.manual_seed(0)
        hf = build_model(config, dtype=torch.float64, attn_implementation=attn)
        calls = []
        if attn == ATTN_NAME:
            alias = ATTN_NAME + VISION_SUFFIX
            assert hf.config.vision_config._attn_implementation == alias
            inner = ALL_ATTENTION_FUNCTIONS[alias]

            def counting(module, q, k, v, attention_mask=None, **kw):
                calls.append(kw.get("cu_seq_lens_q"))
                return inner(module, q, k, v, attention_mask, **kw)

            AttentionInterface.register(alias, counting)
        try:
            lm = LongLM(hf, loss_chunk=16)
            pk = pack_samples(samples, hf.model.get_rope_index)
            with torch.no_grad():
                losses.append(float(lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values.double(),
                                       pk.image_grid_thw)))
        finally:
            if attn == ATTN_NAME:
                AttentionInterface.register(alias, inner)
        if attn == ATTN_NAME:
            assert len(calls) == config.vision_config.depth  # one call per block, all images and windows in it
            assert all(c is not None and c.numel() > 2 for c in calls)  # several spans: documents/windows
    assert_same(losses[1], losses[0], "loss")


def test_dense_mask_refused_beyond_limit(counter, processor, tiny_hf):
    check_dense_mask("sdpa", 32768)
    check_dense_mask(ATTN_NAME, 10**6)
    with pytest.raises(ValueError, match=r"dense \[131072, 131072\] document mask \(16\.0 GiB\).*mmprolong_packed"):
        check_dense_mask("sdpa", 131072)
    lm = LongLM(tiny_hf, loss_chunk=16, dense_mask_max=64)
    pk = pack_samples(_samples(counter, processor), tiny_hf.model.get_rope_index)
    with pytest.raises(ValueError, match="use model.attn_implementation 'mmprolong_packed'"):
        lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
