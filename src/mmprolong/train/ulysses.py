"""Ulysses sequence parallelism, plugged into transformers through its attention-interface registry.

Each sequence-parallel rank holds 1/sp of the packed sequence. Before attention, an all-to-all turns
[B, H, L/sp, D] into [B, H/sp, L, D] (all tokens, a slice of the heads); the model's own attention function
(sdpa, flash, per-document sdpa; chosen as `inner`) runs on the full sequence with the full packed mask (built
by the caller and carried in the context, whatever mask the model passes for its local shard); a
second all-to-all brings the output back. Queries, keys and values are rotated (mRoPE) before, with each token's own positions, so
nothing else in the model changes. Collectives are PyTorch's (autograd-aware functional all_to_all_single; NCCL
on GPU, gloo on CPU).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed._functional_collectives import all_to_all_single_autograd
from transformers import AttentionInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .sp_degree import check_degree  # noqa: F401  (light: `mmprolong plan` checks degrees without torch)

ATTN_NAME = "mmprolong_ulysses"


@dataclass
class UlyssesContext:
    """Passed to the attention function through the model's forward kwargs (key `ulysses`)."""

    group: dist.ProcessGroup
    degree: int
    inner: str                      # attention implementation run on the full sequence
    position_ids: torch.Tensor      # [1, L] text positions of the full packed sequence (flash varlen reads them)
    attention_mask: object = None   # the full sequence's packed mask for the inner attention (None: it uses the
    #                                 positions). Carried here, not through the model: Qwen3-VL's text model
    #                                 rebuilds its mask itself and would hand the inner attention None (no document
    #                                 mask on sdpa / eager)


def _a2a(x: torch.Tensor, group) -> torch.Tensor:
    out = all_to_all_single_autograd(x.contiguous(), None, None, group)
    return out.wait() if hasattr(out, "wait") else out


def seq_to_heads(x: torch.Tensor, sp: int, group) -> torch.Tensor:
    """[B, H, L/sp, D] sequence shard -> [B, H/sp, L, D] head shard."""
    b, h, ls, d = x.shape
    x = x.reshape(b, sp, h // sp, ls, d).permute(1, 0, 2, 3, 4)          # [sp(dest), B, h, Ls, D]
    y = _a2a(x, group)                                                   # [sp(src = sequence chunk), B, h, Ls, D]
    return y.permute(1, 2, 0, 3, 4).reshape(b, h // sp, sp * ls, d)


def heads_to_seq(x: torch.Tensor, sp: int, group) -> torch.Tensor:
    """[B, L, H/sp, D] head shard (attention output layout) -> [B, L/sp, H, D] sequence shard."""
    b, l, h, d = x.shape
    x = x.reshape(b, sp, l // sp, h, d).permute(1, 0, 2, 3, 4)           # [sp(dest = sequence chunk), B, Ls, h, D]
    y = _a2a(x, group)                                                   # [sp(src = head chunk), B, Ls, h, D]
    return y.permute(1, 2, 0, 3, 4).reshape(b, l // sp, sp * h, d)


_INNER_CONFIGS: dict[tuple[int, str], object] = {}


def inner_config(config, inner: str):
    """A shallow copy of the attention module's config that names the inner implementation. Inner functions read
    `module.config._attn_implementation` themselves (transformers' flash integration loads its kernel by that
    name), so they must not see this module's registered name."""
    key = (id(config), inner)
    got = _INNER_CONFIGS.get(key)
    if got is None or got[0] is not config:
        view = copy.copy(config)
        view.__dict__["_attn_implementation_internal"] = inner
        got = _INNER_CONFIGS[key] = (config, view)
    return got[1]


class _InnerView:
    """The attention module as the inner function sees it: the local query/KV head ratio and a config naming the
    inner implementation; everything else is the module's own."""

    def __init__(self, module, groups: int, inner: str):
        self._m = module
        self.num_key_value_groups = groups
        self.config = inner_config(module.config, inner)

    def __getattr__(self, name):
        return getattr(self._m, name)


def ulysses_attention(module, query, key, value, attention_mask, **kwargs):
    ctx: UlyssesContext | None = kwargs.pop("ulysses", None)
    if ctx is None:
        raise RuntimeError(f"attention '{ATTN_NAME}' needs the `ulysses` forward kwarg (use mmprolong.train.lm.LongLM)")
    sp, group = ctx.degree, ctx.group
    if key.shape[1] < sp:  # fewer KV heads than ranks: replicate so that each rank holds its group's KV head
        rep = sp // key.shape[1]
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    q, k, v = (seq_to_heads(t, sp, group) for t in (query, key, value))
    kwargs["position_ids"] = ctx.position_ids
    inner = ALL_ATTENTION_FUNCTIONS[ctx.inner]
    out, _ = inner(_InnerView(module, q.shape[1] // k.shape[1], ctx.inner), q, k, v, ctx.attention_mask, **kwargs)
    return heads_to_seq(out, sp, group), None


def register() -> None:
    AttentionInterface.register(ATTN_NAME, ulysses_attention)
