"""GPU check of the CUDA-only paths of train.varlen (torch's varlen kernel, compiled FlexAttention): forward and
backward against per-document SDPA in float32, bf16 inputs, GQA 28:4, causal text and non-causal vision spans;
prints which backend `mmprolong_packed` picks and the varlen signature this torch has. ~1 minute on one H200.

  python bench/gpu_attention_check.py
"""

from __future__ import annotations

import inspect
import sys
import time

import torch

from mmprolong.train import varlen


class _M:
    def __init__(self, causal: bool):
        self.is_causal = causal


def reference(q, k, v, cu, causal):
    return varlen._sdpa_loop(q.float(), k.float(), v.float(), cu, causal, None).transpose(1, 2)


def check(name: str, lengths: list[int], h: int, hkv: int, d: int, causal: bool) -> bool:
    g = torch.Generator(device="cuda").manual_seed(sum(lengths))
    L = sum(lengths)
    mk = lambda n: torch.randn(1, n, L, d, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()  # noqa
    q, k, v = mk(h), mk(hkv), mk(hkv)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device="cuda")
    ref = reference(q, k, v, cu, causal)
    gout = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, (q, k, v), gout)
    ok = True
    for impl in (varlen.VARLEN_NAME, varlen.FLEX_NAME, varlen.ATTN_NAME):
        try:
            t = time.perf_counter()
            out, _ = varlen.packed_attention(_M(causal), q, k, v, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                             implementation=impl)
            grads = torch.autograd.grad(out, (q, k, v), gout.to(out.dtype))
            torch.cuda.synchronize()
            sec = time.perf_counter() - t
        except Exception as e:  # noqa: BLE001  (report and go on: this is a check script)
            print(f"{name:<28} {impl:<22} ERROR {type(e).__name__}: {str(e)[:200]}")
            ok = ok and impl == varlen.VARLEN_NAME  # varlen may be unavailable on this torch (GQA): flex covers
            continue
        errs = [float((a.float() - b.float()).norm() / b.float().norm()) for a, b in zip((out, *grads),
                                                                                        (ref, *ref_grads))]
        good = all(e < 2e-2 for e in errs) and all(torch.isfinite(x).all() for x in (out, *grads))
        ok &= good
        print(f"{name:<28} {impl:<22} rel err out/dq/dk/dv {' '.join(f'{e:.1e}' for e in errs)}  "
              f"{sec * 1e3:8.1f} ms  {'ok' if good else 'FAIL'}")
    return ok


def main() -> int:
    if not torch.cuda.is_available():
        print("needs a GPU", file=sys.stderr)
        return 1
    api = varlen._varlen_api()
    print(f"torch {torch.__version__}; varlen_attn: "
          f"{'absent' if api is None else inspect.signature(api[0])}")
    q = torch.empty(1, 28, 8, 128, device="cuda", dtype=torch.bfloat16)
    print("mmprolong_packed picks:", varlen.pick_backend(varlen.ATTN_NAME, q, q[:, :4]), "(text, GQA 28:4);",
          varlen.pick_backend(varlen.ATTN_NAME, q, q), "(vision, MHA)")
    ok = True
    ok &= check("text causal, GQA 28:4", [3000, 5000, 192], 28, 4, 128, True)
    ok &= check("vision windows, 16 heads", [64] * 100 + [37], 16, 16, 80, False)
    ok &= check("vision full images", [9856, 4000], 16, 16, 80, False)
    print("ALL OK" if ok else "SOME FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
