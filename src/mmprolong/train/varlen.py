"""Packed (document-masked) attention with no package beyond PyTorch: no [L, L] mask, no K/V head copies.

Registered in transformers' attention interface under these names:
  mmprolong_packed       auto: torch's varlen flash kernel (`torch.nn.attention.varlen.varlen_attn`) on CUDA in
                         bf16/fp16, else FlexAttention with a document block mask (compiled on CUDA); on CPU
                         FlexAttention when no gradient is needed (its CPU path has no backward), else SDPA per
                         document. The GPU default when flash-attn is not installed (`model.resolve_attn`).
  mmprolong_varlen       torch's varlen kernel only (CUDA, half precision)
  mmprolong_flex         FlexAttention only
  mmprolong_varlen_sdpa  SDPA per packed document (a Python loop over documents; the reference)
GQA is the kernels' own (varlen `enable_gqa` where this torch has it, FlexAttention `enable_gqa`, SDPA
`enable_gqa`): K/V keep their few heads. Documents come from `cu_seqlens` when the caller passes them (the vision
tower: one span per window or per image) or from the text position row (it restarts at 0 for every sample).

The vision tower hands its cu_seqlens to the attention function only when the implementation's name contains
"flash" (transformers' `is_flash_attention_requested`); otherwise it loops over windows in Python, one call per
window. So `use_for_vision` sets the vision config to an alias whose name says flash, after the model is built
(the loader would try to import a flash kernel under that name). torch's `varlen_attn` changed between releases:
2.10 takes `is_causal` and no `scale` (Q is pre-scaled instead), later ones `window_size=(-1, 0)` and `scale`;
`enable_gqa` arrived after 2.12's first form. All are read off the signature (`VarlenAPI`); without `enable_gqa`,
GQA goes to FlexAttention.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math

import torch
import torch.nn.functional as F
from transformers import AttentionInterface

log = logging.getLogger(__name__)

ATTN_NAME = "mmprolong_packed"
VARLEN_NAME = "mmprolong_varlen"
FLEX_NAME = "mmprolong_flex"
SDPA_NAME = "mmprolong_varlen_sdpa"
NAMES = (ATTN_NAME, VARLEN_NAME, FLEX_NAME, SDPA_NAME)
VISION_SUFFIX = "_flash_cu_seqlens"  # "flash" in the name: transformers' vision towers pass cu_seqlens through
FLEX_BLOCK = 128


def document_bounds(position_ids: torch.Tensor) -> list[tuple[int, int]]:
    """[(start, end)] of each packed document, from text positions [1, L] or [L]."""
    cu = cu_seqlens_from_positions(position_ids).tolist()
    return list(zip(cu[:-1], cu[1:]))


def cu_seqlens_from_positions(position_ids: torch.Tensor) -> torch.Tensor:
    """int32 [N + 1] document boundaries from text positions [1, L] or [L] (a document starts where the position
    is 0; the first token always starts one)."""
    pos = position_ids.reshape(-1)
    starts = (pos == 0)
    starts[0:1] = True
    idx = starts.nonzero(as_tuple=True)[0]
    return torch.cat([idx, idx.new_tensor([pos.numel()])]).to(torch.int32)


# -- backends ---------------------------------------------------------------------------------------------------
@functools.cache
def _varlen_api():
    """VarlenAPI for this torch's varlen_attn, or None where it has none."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_api_of(varlen_attn)


@dataclasses.dataclass(frozen=True)
class VarlenAPI:
    """What one torch release's `varlen_attn` takes: its keyword set changed between 2.10 and 2.13."""

    fn: object
    window_size: bool  # causal as window_size=(-1, 0) (later) rather than is_causal=True (2.10)
    enable_gqa: bool   # K/V with fewer heads than Q
    scale: bool        # a softmax scale (2.10 has none: Q is pre-scaled instead)

    def __getitem__(self, i):  # (fn, window_size, enable_gqa), as the tuple this used to be
        return (self.fn, self.window_size, self.enable_gqa, self.scale)[i]


def varlen_api_of(fn) -> VarlenAPI:
    params = inspect.signature(fn).parameters
    return VarlenAPI(fn, "window_size" in params, "enable_gqa" in params, "scale" in params)


def varlen_usable(query: torch.Tensor, key: torch.Tensor) -> bool:
    api = _varlen_api()
    if api is None or not query.is_cuda or query.dtype not in (torch.float16, torch.bfloat16):
        return False
    return query.shape[1] == key.shape[1] or api.enable_gqa


def _varlen(q, k, v, cu, causal, scale):
    """q [L, H, D], k/v [L, Hkv, D]."""
    api = _varlen_api()
    kw = {}
    if scale is not None:
        if api.scale:
            kw["scale"] = scale
        else:  # softmax(q k^T / sqrt(D)) with q * scale * sqrt(D) is softmax(scale q k^T)
            q = q * (scale * math.sqrt(q.shape[-1]))
    if causal:
        kw.update({"window_size": (-1, 0)} if api.window_size else {"is_causal": True})
    if q.shape[1] != k.shape[1]:
        kw["enable_gqa"] = True
    max_len = int((cu[1:] - cu[:-1]).max())
    return api.fn(q, k, v, cu, cu, max_len, max_len, **kw)


_block_masks: dict = {}


def document_block_mask(cu: torch.Tensor, length: int, causal: bool, device, block: int = FLEX_BLOCK):
    """FlexAttention BlockMask for documents [cu[i], cu[i+1]) (causal or not inside each), built from block-level
    document ranges: O((L / block)^2) small integers, never an [L, L] mask."""
    from torch.nn.attention.flex_attention import BlockMask

    key = (tuple(cu.tolist()), length, causal, str(device), block)
    if key in _block_masks:
        return _block_masks[key]
    cu = cu.to(device=device, dtype=torch.long)
    nb = math.ceil(length / block)
    doc = torch.zeros(length, dtype=torch.long, device=device)
    doc[cu[1:-1]] = 1
    doc = doc.cumsum(0)
    b = torch.arange(nb, device=device)
    first = doc[b * block]
    last = doc[torch.clamp((b + 1) * block, max=length) - 1]
    uniform = first == last
    if length % block:
        uniform[-1] = False  # a short last block is never "full" (its padding must stay masked)
    overlap = (first[:, None] <= last[None, :]) & (first[None, :] <= last[:, None])
    full = uniform[:, None] & uniform[None, :] & (first[:, None] == first[None, :])
    if causal:
        overlap &= b[None, :] <= b[:, None]
        full &= b[None, :] < b[:, None]
    partial = overlap & ~full

    def blocks(m):
        return (m.sum(-1).to(torch.int32)[None, None],
                torch.argsort((~m).to(torch.int8), dim=-1, stable=True).to(torch.int32)[None, None])

    docp = F.pad(doc, (0, nb * block - length), value=-1)

    def mask_mod(b_, h_, q_idx, kv_idx):
        same = docp[q_idx] == docp[kv_idx]
        return same & (q_idx >= kv_idx) if causal else same

    kv_num, kv_idx = blocks(partial)
    full_num, full_idx = blocks(full)
    bm = BlockMask.from_kv_blocks(kv_num, kv_idx, full_num, full_idx, BLOCK_SIZE=block, mask_mod=mask_mod,
                                  seq_lengths=(length, length))
    if len(_block_masks) > 16:
        _block_masks.clear()
    _block_masks[key] = bm
    return bm


@functools.cache
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention)


def _flex(q, k, v, cu, causal, scale):
    """q [1, H, L, D], k/v [1, Hkv, L, D] -> [1, H, L, D]."""
    from torch.nn.attention.flex_attention import flex_attention

    bm = document_block_mask(cu, q.shape[2], causal, q.device)
    fn = _compiled_flex() if q.is_cuda else flex_attention  # eager flex materialises scores: CPU tests only
    return fn(q, k, v, block_mask=bm, scale=scale, enable_gqa=q.shape[1] != k.shape[1])


def _sdpa_loop(q, k, v, cu, causal, scale):
    """q [1, H, L, D] -> [1, H, L, D]: SDPA per document (GQA by SDPA's enable_gqa, no K/V copies)."""
    out = torch.empty_like(q)
    bounds = cu.tolist()
    gqa = q.shape[1] != k.shape[1]
    for s, e in zip(bounds[:-1], bounds[1:]):
        out[:, :, s:e] = F.scaled_dot_product_attention(q[:, :, s:e], k[:, :, s:e], v[:, :, s:e], is_causal=causal,
                                                         scale=scale, enable_gqa=gqa)
    return out


def pick_backend(requested: str, query: torch.Tensor, key: torch.Tensor) -> str:
    """'varlen', 'flex' or 'sdpa' for an implementation name and these inputs."""
    if requested == SDPA_NAME:
        return "sdpa"
    if requested == VARLEN_NAME:
        if not varlen_usable(query, key):
            raise RuntimeError(f"attention '{VARLEN_NAME}' needs torch's varlen_attn on CUDA in bf16/fp16 (and, "
                               f"for GQA, a torch whose varlen_attn takes enable_gqa); use '{ATTN_NAME}'")
        return "varlen"
    if requested == FLEX_NAME:
        return "flex"
    if varlen_usable(query, key):
        return "varlen"
    if query.is_cuda:
        return "flex"
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key))
    return "sdpa" if needs_grad else "flex"  # FlexAttention has no backward on CPU


def packed_attention(module, query, key, value, attention_mask=None, scaling=None, dropout: float = 0.0,
                     position_ids=None, cu_seq_lens_q=None, cu_seq_lens_k=None, is_causal=None,
                     implementation: str = ATTN_NAME, **kwargs):
    """query [1, H, L, D], key/value [1, Hkv, L, D] -> ([1, L, H, D], None), attention inside each document."""
    if query.shape[0] != 1:
        raise ValueError(f"attention '{implementation}' takes one packed sequence (batch 1), got {query.shape[0]}")
    if dropout:
        raise ValueError(f"attention '{implementation}' has no dropout (got {dropout})")
    causal = bool(getattr(module, "is_causal", True) if is_causal is None else is_causal)
    L = query.shape[2]
    if cu_seq_lens_q is not None:
        if cu_seq_lens_k is not None and not torch.equal(cu_seq_lens_q, cu_seq_lens_k):
            raise ValueError(f"attention '{implementation}' needs the same query and key spans")
        cu = cu_seq_lens_q.to(torch.int32)
    elif position_ids is not None:
        cu = cu_seqlens_from_positions(position_ids).to(query.device)
    elif causal:
        raise RuntimeError(f"attention '{implementation}' needs packed text position ids or cu_seqlens")
    else:
        cu = torch.tensor([0, L], dtype=torch.int32, device=query.device)
    backend = pick_backend(implementation, query, key)
    if backend == "varlen":
        q, k, v = (t[0].transpose(0, 1).contiguous() for t in (query, key, value))
        return _varlen(q, k, v, cu, causal, scaling).unsqueeze(0), None
    fn = _flex if backend == "flex" else _sdpa_loop
    out = fn(query, key, value, cu, causal, scaling)
    return out.transpose(1, 2).contiguous(), None


def varlen_sdpa_attention(module, query, key, value, attention_mask=None, **kwargs):
    """The per-document SDPA reference (kept under its historical name)."""
    return packed_attention(module, query, key, value, attention_mask, implementation=SDPA_NAME, **kwargs)


def register() -> None:
    for name in NAMES:
        fn = functools.partial(packed_attention, implementation=name)
        AttentionInterface.register(name, fn)
        AttentionInterface.register(name + VISION_SUFFIX, fn)


def use_for_vision(hf, name: str) -> None:
    """Route the vision tower's window and full blocks through `name` with their cu_seqlens (one call per block,
    no per-window loop)."""
    if name not in NAMES:
        return
    register()
    vc = getattr(hf.config, "vision_config", None)
    if vc is not None:
        vc._attn_implementation = name + VISION_SUFFIX
        for m in hf.modules():  # modules keep a reference to their config; set it where it differs
            cfg = getattr(m, "config", None)
            if cfg is not None and cfg is not vc and type(cfg) is type(vc) and cfg is not hf.config:
                cfg._attn_implementation = name + VISION_SUFFIX
