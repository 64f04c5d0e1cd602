"""torch's `varlen_attn` keyword set differs by release (2.10: `is_causal`, no `scale`; later: `window_size`,
`scale`, `enable_gqa`). The call is built from the signature; each form is emulated here on CPU in float64 (an
independent per-document softmax), since the real kernel runs on CUDA only."""

import math

import pytest
import torch

from mmprolong.train import varlen


def _softmax_docs(q, k, v, cu, causal, scale):
    """q [L, H, D], k/v [L, Hkv, D]: float64 softmax attention inside each document."""
    g = q.shape[1] // k.shape[1]
    out = torch.empty_like(q)
    b = cu.tolist()
    for s, e in zip(b[:-1], b[1:]):
        qs = q[s:e].transpose(0, 1)
        ks, vs = (t[s:e].transpose(0, 1).repeat_interleave(g, 0) for t in (k, v))
        scores = qs @ ks.transpose(-1, -2) * scale
        if causal:
            scores = scores.masked_fill(torch.ones(e - s, e - s, dtype=torch.bool).triu(1), float("-inf"))
        out[s:e] = (scores.softmax(-1) @ vs).transpose(0, 1)
    return out


def varlen_2_10(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, is_causal=False):
    """2.10's form: no scale (always 1/sqrt(D)), causal as a flag, no GQA."""
    assert query.shape[1] == key.shape[1]
    return _softmax_docs(query, key, value, cu_seq_q, is_causal, 1 / math.sqrt(query.shape[-1]))


def varlen_2_13(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, *, scale=None, window_size=(-1, -1),
                enable_gqa=False):
    assert enable_gqa or query.shape[1] == key.shape[1]
    causal = tuple(window_size) == (-1, 0)
    return _softmax_docs(query, key, value, cu_seq_q, causal, 1 / math.sqrt(query.shape[-1]) if scale is None
                         else scale)


@pytest.mark.parametrize("fn,hkv", [(varlen_2_10, 4), (varlen_2_13, 4), (varlen_2_13, 2)])
@pytest.mark.parametrize("scale", [None, 0.3])
@pytest.mark.parametrize("causal", [True, False])
def test_each_signature_gets_the_same_attention(monkeypatch, fn, hkv, scale, causal):
    api = varlen.varlen_api_of(fn)
    monkeypatch.setattr(varlen, "_varlen_api", lambda: api)
    g = torch.Generator().manual_seed(7)
    lengths = [5, 1, 9]
    L, D = sum(lengths), 8
    q = torch.randn(L, 4, D, generator=g, dtype=torch.float64)
    k, v = (torch.randn(L, hkv, D, generator=g, dtype=torch.float64) for _ in range(2))
    cu = torch.tensor([0, 5, 6, 15], dtype=torch.int32)
    got = varlen._varlen(q, k, v, cu, causal, scale)
    want = _softmax_docs(q, k, v, cu, causal, 1 / math.sqrt(D) if scale is None else scale)
    torch.testing.assert_close(got, want)  # float64 defaults


def test_signature_flags():
    assert varlen.varlen_api_of(varlen_2_10)[1:] == (False, False, False)
    assert varlen.varlen_api_of(varlen_2_13)[1:] == (True, True, True)
