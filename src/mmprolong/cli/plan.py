"""`mmprolong plan`: per-GPU memory and step-time estimate for a training setup, and whether it fits."""

from __future__ import annotations

import argparse
import json
import sys

from ..units import length_arg


def register(sub) -> None:
    p = sub.add_parser("plan", help="per-GPU memory / step-time estimate for long-context training",
                       description=__doc__ + " Exit code 0 when it fits, 1 when it does not; the table says what "
                       "to change (more sequence parallelism, CPU offload, more GPUs).")
    p.add_argument("--model", default="qwen2.5-vl-7b", help="a preset name or a local Hugging Face model folder")
    p.add_argument("--length", type=length_arg, default=131072,
                   help="tokens per sequence: 131072, 128K or 128k (default: 128K)")
    p.add_argument("--gpus", type=int, default=8, help="GPUs in the job, all nodes together (default %(default)s)")
    p.add_argument("--sp", type=int, default=1,
                   help="Ulysses sequence-parallel degree: each sequence is split over this many GPUs; must divide "
                        "the query heads (28 for 7B: 1, 2, 4) (default %(default)s)")
    p.add_argument("--no-grad-checkpointing", action="store_true",
                   help="plan without activation checkpointing (far more activation memory)")
    p.add_argument("--cpu-offload", action="store_true",
                   help="FSDP2 parameter, gradient and optimizer-state offload to host memory")
    p.add_argument("--gpu-mem", type=float, default=80.0, metavar="GIB", help="GiB per GPU (default 80)")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak per GPU (H100: 989, H20: 148)")
    p.add_argument("--mfu", type=float, default=0.4, help="assumed model FLOPs utilisation for the time estimate")
    p.add_argument("--json", action="store_true", help="print the plan as JSON instead of a table")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from mmprolong.train.plan import plan
    from mmprolong.train.presets import PRESETS, shape

    if a.model in PRESETS:
        config = shape(a.model)   # no torch / transformers import: the estimate prints in well under a second
    elif Path(a.model).is_dir():
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(a.model)
    else:
        raise ValueError(f"unknown model {a.model!r}: a preset ({', '.join(sorted(PRESETS))}) or a model folder")
    def est(sp=a.sp, offload=a.cpu_offload, ckpt=not a.no_grad_checkpointing):
        return plan(config, a.model, a.length, a.gpus, sp, ckpt, a.gpu_mem, a.peak_tflops * 1e12, a.mfu, offload)

    p = est()
    print(json.dumps(p.as_dict(), indent=1) if a.json else p.to_markdown())
    if not p.fits:
        print("\n" + "\n".join(_advice(est, a, p)), file=sys.stderr)
    return 0 if p.fits else 1


def _advice(est, a: argparse.Namespace, p) -> list[str]:
    """What would make it fit, each checked with the same estimate."""
    tried = []
    if a.no_grad_checkpointing and est(ckpt=True).fits:
        tried.append(f"drop --no-grad-checkpointing ({est(ckpt=True).total_gib:.1f} GiB)")
    for sp in (a.sp * 2, a.sp * 4):
        if sp <= a.gpus and a.gpus % sp == 0:
            try:
                q = est(sp=sp)
            except ValueError:  # the degree does not fit the heads
                continue
            if q.fits:
                tried.append(f"--sp {sp} ({q.total_gib:.1f} GiB per GPU)")
                break
    if not a.cpu_offload and est(offload=True).fits:
        tried.append(f"--cpu-offload ({est(offload=True).total_gib:.1f} GiB per GPU)")
    need = p.total_gib
    tried.append(f"GPUs with at least {need * 1.05:.0f} GiB (--gpu-mem; H20: 96, H200: 141)")
    return [f"does not fit in {a.gpu_mem:g} GiB per GPU ({need:.1f} GiB needed); any of these fits:"] + \
        [f"  - {t}" for t in tried]
