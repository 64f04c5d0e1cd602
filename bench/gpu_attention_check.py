"""Check of the attention paths the trainer uses on a GPU (torch's varlen kernel, compiled FlexAttention, and what
`mmprolong_packed` picks), forward and backward, against an independent reference: softmax attention inside each
document computed in float64 from the same bf16 inputs (K/V heads repeated per query-head group).

Tolerance, derived from bf16 rather than guessed: a path passes when its relative error (Frobenius norm, output and
each gradient) is at most twice that of torch's own bf16 SDPA run per document on the same inputs, and never below
half an ulp of bf16 (2**-8 relative: the rounding of the output alone).

Cases: causal text with GQA 28:4 and one-token documents, several lengths (a short last block, block-aligned
documents), non-causal vision windows and full images. ~1 minute on one H100 (Flex compiles once per shape).

  python bench/gpu_attention_check.py          # GPU: every path, forward and backward
  python bench/gpu_attention_check.py --cpu    # rehearsal: small shapes; CPU has no varlen kernel, and its
                                               # FlexAttention no backward (forward checked, gradients skipped)
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time

import torch
import torch.nn.functional as F

from mmprolong.train import varlen

BF16_ULP = torch.finfo(torch.bfloat16).eps  # 2**-7: the spacing of bf16 numbers in [1, 2)


class _M:
    def __init__(self, causal: bool):
        self.is_causal = causal


def reference(q, k, v, lengths, causal):
    """float64 softmax attention per document (differentiable); q [1, H, L, D], k/v [1, Hkv, L, D] -> [1, L, H, D]."""
    g = q.shape[1] // k.shape[1]
    out, s = [], 0
    for n in lengths:
        qs = q[0, :, s:s + n]
        ks, vs = (t[0, :, s:s + n].repeat_interleave(g, 0) for t in (k, v))
        scores = qs @ ks.transpose(-1, -2) / q.shape[-1] ** 0.5
        if causal:
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        out.append(scores.softmax(-1) @ vs)
        s += n
    return torch.cat(out, dim=1).transpose(0, 1)[None]


def torch_sdpa_bf16(q, k, v, lengths, causal):
    """torch's own SDPA per document on the bf16 inputs: what bf16 attention achieves, for the tolerance."""
    out = torch.empty_like(q)
    s = 0
    for n in lengths:
        out[:, :, s:s + n] = F.scaled_dot_product_attention(q[:, :, s:s + n], k[:, :, s:s + n], v[:, :, s:s + n],
                                                            is_causal=causal, enable_gqa=q.shape[1] != k.shape[1])
        s += n
    return out.transpose(1, 2)


def rel(a, b) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check(name: str, lengths: list[int], h: int, hkv: int, d: int, causal: bool, device: str,
          impls: tuple[str, ...], grads: bool) -> bool:
    g = torch.Generator(device=device).manual_seed(sum(lengths))
    L = sum(lengths)
    mk = lambda n: torch.randn(1, n, L, d, device=device, dtype=torch.bfloat16, generator=g).requires_grad_()  # noqa
    q, k, v = mk(h), mk(hkv), mk(hkv)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device=device)
    qd, kd, vd = (t.detach().double().requires_grad_() for t in (q, k, v))
    ref = reference(qd, kd, vd, lengths, causal)
    gout = torch.randn(ref.shape, device=device, dtype=torch.bfloat16, generator=g)
    ref_grads = torch.autograd.grad(ref, (qd, kd, vd), gout.double()) if grads else ()
    base = torch_sdpa_bf16(q, k, v, lengths, causal)
    base_grads = torch.autograd.grad(base, (q, k, v), gout) if grads else ()
    tols = [max(2 * rel(a, b), BF16_ULP / 2) for a, b in zip((base, *base_grads), (ref, *ref_grads))]
    ok = True
    for impl in impls:
        try:
            t = time.perf_counter()
            qi, ki, vi = (q, k, v) if grads else (t.detach() for t in (q, k, v))
            with torch.set_grad_enabled(grads):
                out, _ = varlen.packed_attention(_M(causal), qi, ki, vi, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                                 implementation=impl)
                got = (out, *torch.autograd.grad(out, (q, k, v), gout.to(out.dtype))) if grads else (out,)
            if device == "cuda":
                torch.cuda.synchronize()
            sec = time.perf_counter() - t
        except Exception as e:  # noqa: BLE001  (report and go on: this is a check script)
            print(f"{name:<34} {impl:<22} ERROR {type(e).__name__}: {str(e)[:200]}")
            ok = False
            continue
        errs = [rel(a, b) for a, b in zip(got, (ref, *ref_grads))]
        good = all(e <= tol for e, tol in zip(errs, tols)) and all(torch.isfinite(x).all() for x in got)
        ok &= good
        print(f"{name:<34} {impl:<22} rel err {'/'.join(f'{e:.1e}' for e in errs)} "
              f"(tol {'/'.join(f'{x:.1e}' for x in tols)}) {sec * 1e3:8.1f} ms  {'ok' if good else 'FAIL'}")
    return ok


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true")
    args = ap.parse_args(argv)
    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("needs a GPU (or --cpu for the rehearsal)", file=sys.stderr)
        return 1
    api = varlen._varlen_api()
    print(f"torch {torch.__version__}; varlen_attn: {'absent' if api is None else inspect.signature(api.fn)}")
    q = torch.empty(1, 28, 8, 128, device=device, dtype=torch.bfloat16)
    print("mmprolong_packed picks:", varlen.pick_backend(varlen.ATTN_NAME, q, q[:, :4]), "(text, GQA 28:4);",
          varlen.pick_backend(varlen.ATTN_NAME, q, q), "(vision, MHA)")
    if args.cpu:  # the same cases, small: FlexAttention forward and the per-document path forward and backward
        cases = [("text causal, GQA 4:2, 1-token docs", [100, 1, 150, 1, 37], 4, 2, 32, True),
                 ("vision windows", [16] * 7 + [5], 4, 4, 32, False)]
        runs = [((varlen.FLEX_NAME,), False), ((varlen.SDPA_NAME,), True)]
    else:
        varlen_ok = api is not None
        text = (varlen.FLEX_NAME, varlen.ATTN_NAME) + ((varlen.VARLEN_NAME,) if varlen_ok and api.enable_gqa else ())
        cases = [("text causal, GQA 28:4, 1-token docs", [3000, 1, 5000, 1, 190], 28, 4, 128, True),
                 ("text causal, GQA 28:4, 2 x 8K", [8192, 8192], 28, 4, 128, True),
                 ("vision windows, 16 heads", [64] * 100 + [37], 16, 16, 80, False),
                 ("vision full images", [9856, 4000], 16, 16, 80, False)]
        runs = [(text, True)]
        mha = (varlen.FLEX_NAME, varlen.ATTN_NAME) + ((varlen.VARLEN_NAME,) if varlen_ok else ())
    ok = True
    for name, lengths, h, hkv, d, causal in cases:
        for impls, grads in runs:
            if not args.cpu and h == hkv:
                impls = mha
            ok &= check(name, lengths, h, hkv, d, causal, device, impls, grads)
    print("ALL OK" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
