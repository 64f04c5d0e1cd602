"""Document-masked attention without an [L, L] mask: PyTorch SDPA run per packed document (causal).

The GPU fallback when flash-attn is not installed (transformers' Qwen2.5-VL text model has no flex-attention
path, and a dense block-diagonal mask at 128K would take L^2 memory). Document boundaries come from the text
position row (it restarts at 0 for every sample), the same signal transformers uses for flash varlen. Each
document uses SDPA's fused causal kernels (flash / memory-efficient), so memory stays linear in L.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface

ATTN_NAME = "mmprolong_varlen_sdpa"


def document_bounds(position_ids: torch.Tensor) -> list[tuple[int, int]]:
    """[(start, end)] of each packed document, from text positions [1, L] or [L]."""
    pos = position_ids.reshape(-1)
    starts = (pos == 0).nonzero(as_tuple=True)[0].tolist()
    if not starts or starts[0] != 0:
        starts = [0] + starts
    ends = starts[1:] + [pos.numel()]
    return list(zip(starts, ends))


def varlen_sdpa_attention(module, query, key, value, attention_mask, scaling=None, position_ids=None,
                          dropout: float = 0.0, **kwargs):
    """query [B, H, L, D], key/value [B, Hkv, L, D] -> ([B, L, H, D], None), causal within each document."""
    if position_ids is None:
        raise RuntimeError(f"attention '{ATTN_NAME}' needs packed text position ids")
    if key.shape[1] != query.shape[1]:
        rep = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    out = torch.empty_like(query)
    for s, e in document_bounds(position_ids):
        out[:, :, s:e] = F.scaled_dot_product_attention(query[:, :, s:e], key[:, :, s:e], value[:, :, s:e],
                                                         is_causal=True, scale=scaling, dropout_p=dropout)
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    AttentionInterface.register(ATTN_NAME, varlen_sdpa_attention)
