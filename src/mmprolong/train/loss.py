"""Cross-entropy over the LM head without materialising [L, vocab] logits.

Only positions with a target are projected, in chunks; each chunk is recomputed in backward
(torch.utils.checkpoint), so peak memory is one chunk's logits. Returns the loss SUM so that the caller can
divide by the valid-token count of the whole step (across data/sequence parallel ranks and micro-batches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE = -100


def _acc_dtype(t: torch.Tensor) -> torch.dtype:
    """fp32 for bf16/fp16/fp32 activations; fp64 stays fp64 (the tests check equalities in float64)."""
    return torch.promote_types(t.dtype, torch.float32)


def _chunk_loss(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = F.linear(h, weight).to(_acc_dtype(h))
    return F.cross_entropy(logits, targets, reduction="sum")


def chunked_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                          chunk: int = 4096) -> torch.Tensor:
    """Sum of token cross-entropies; hidden [..., H], labels [...] with -100 ignored; fp32 logits per chunk."""
    h = hidden.reshape(-1, hidden.shape[-1])
    y = labels.reshape(-1)
    keep = (y != IGNORE).nonzero(as_tuple=True)[0]
    total = hidden.new_zeros((), dtype=_acc_dtype(hidden))
    if keep.numel() == 0:
        return total + 0.0 * h.sum() + 0.0 * weight.sum()  # keep the graph connected for distributed backward
    h, y = h.index_select(0, keep), y.index_select(0, keep)
    for s in range(0, h.shape[0], chunk):
        total = total + checkpoint(_chunk_loss, h[s:s + chunk], weight, y[s:s + chunk], use_reentrant=False)
    return total


def plain_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The reference: full logits, then summed cross-entropy (for tests and the baseline benchmark)."""
    logits = F.linear(hidden.reshape(-1, hidden.shape[-1]), weight).to(_acc_dtype(hidden))
    return F.cross_entropy(logits, labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
