"""An SDPA-backed stand-in for flash-attn, installed where transformers looks its flash kernels up by name.

transformers' `flash_attention_forward` calls `lazy_import_flash_attention(module.config._attn_implementation)`;
for "flash_attention_2" without the flash-attn package it would fetch a kernel from the Hub. The stand-in answers
that one name with varlen / dense functions of flash-attn's signature that run PyTorch SDPA per sequence, and
passes every other name to transformers' own loader (which fails for a name that is not a flash kernel, exactly
as it does on a GPU). So a CPU test runs transformers' real flash integration (mask, position-id varlen
detection, cu_seqlens, kwargs) and fails where a wrong name reaches it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import transformers.modeling_flash_attention_utils as fa

NAME = "flash_attention_2"
calls = {"varlen": 0, "dense": 0}


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=None, max_seqlen_k=None,
                           dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                           deterministic=False):
    """q [T, H, D], k/v [T, Hkv, D] -> [T, H, D], each cu_seqlens span attended on its own."""
    calls["varlen"] += 1
    out = torch.empty_like(q)
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for i in range(len(cq) - 1):
        qs, ks = q[cq[i]:cq[i + 1]].transpose(0, 1), k[ck[i]:ck[i + 1]].transpose(0, 1)
        vs = v[ck[i]:ck[i + 1]].transpose(0, 1)
        o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=causal, scale=softmax_scale, dropout_p=dropout_p,
                                           enable_gqa=True)
        out[cq[i]:cq[i + 1]] = o.transpose(0, 1)
    return out


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    deterministic=False):
    """q [B, L, H, D] -> [B, L, H, D]."""
    calls["dense"] += 1
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal,
                                       scale=softmax_scale, dropout_p=dropout_p, enable_gqa=True)
    return o.transpose(1, 2)


def install() -> None:
    """Route transformers' flash loader for NAME to the stand-in (idempotent; per process)."""
    if getattr(fa._lazy_imports, "_standin", False):
        return
    original = fa._lazy_imports

    def lazy_imports(implementation, attention_wrapper=None, allow_all_kernels=False):
        if implementation == NAME:
            return flash_attn_func, flash_attn_varlen_func, None, fa._pad_input, fa._unpad_input
        return original(implementation, attention_wrapper, allow_all_kernels=allow_all_kernels)

    lazy_imports._standin = True
    fa._lazy_imports = lazy_imports
    fa._loaded_implementation = None


def use_flash(hf) -> None:
    """Switch a built model's text attention to NAME (built with sdpa: the loader's availability check would refuse
    flash_attention_2 without the package); the vision tower keeps its own."""
    install()
    hf.config.get_text_config()._attn_implementation = NAME
