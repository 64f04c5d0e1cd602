"""`mmprolong plan`: per-GPU memory and step-time estimate for a training setup, and whether it fits."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("plan", help="per-GPU memory / step-time estimate for long-context training",
                       description=__doc__)
    p.add_argument("--model", default="qwen2.5-vl-7b", help="a preset name or a local Hugging Face model folder")
    p.add_argument("--length", type=int, default=131072)
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--sp", type=int, default=1)
    p.add_argument("--no-grad-checkpointing", action="store_true")
    p.add_argument("--cpu-offload", action="store_true")
    p.add_argument("--gpu-mem", type=float, default=80.0, help="GiB per GPU (default 80)")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak per GPU (H100: 989, H20: 148)")
    p.add_argument("--mfu", type=float, default=0.4, help="assumed model FLOPs utilisation for the time estimate")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from mmprolong.train.model import PRESETS, preset_config
    from mmprolong.train.plan import plan

    if a.model in PRESETS:
        config = preset_config(a.model)
    elif Path(a.model).is_dir():
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(a.model)
    else:
        raise ValueError(f"unknown model {a.model!r}: a preset ({', '.join(sorted(PRESETS))}) or a model folder")
    p = plan(config, a.model, a.length, a.gpus, a.sp, not a.no_grad_checkpointing, a.gpu_mem,
             a.peak_tflops * 1e12, a.mfu, a.cpu_offload)
    print(json.dumps(p.as_dict(), indent=1) if a.json else p.to_markdown())
    return 0 if p.fits else 1
