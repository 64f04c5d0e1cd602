"""One device call that surely measures: environment, attention, then training rows from short to long.

  python bench/gpu_session.py --out $OUT                 # on the device (bench/gpu_train.sh wraps it)
  python bench/gpu_session.py --out DIR --rehearse       # the same stages on CPU with a tiny model (make test)

Every stage writes its result as soon as it exists, so a call cut short still returns what it measured:
  env.json        torch / transformers / card / memory, and whether this transformers has what the trainer needs
  attention.log   compiled FlexAttention and torch's varlen kernel, forward and backward, against an independent
                  float64 per-document softmax (several lengths, one-token documents, GQA 28:4); tolerance derived
                  from bf16 (twice the error of torch's own bf16 SDPA on the same documents, at least 2 ulp)
  rows.jsonl      one JSON line per training row when it ends: measured, OOM, timeout, predicted not to fit, or
                  skipped for time
  train.md        the results table (tokens/s, MFU, peak GiB beside the plan's GiB), rewritten after every row

Rows run in their own process (`bench/train.py --row`), each under its own time limit enforced while it runs (the
process is killed at the limit; the row is recorded `timeout`), shortest first; a row that the plan says does not
fit the card found (H100 80 GB, H200 141 GB, or any other) is recorded as such and not tried, and ours is given
activation offload where only that fits. A row whose predicted time exceeds what is left is recorded `skipped`.

Expected wall time on one H100 80 GB, without the machine's start (an H200 is a little faster):
| stage | limit | expected |
|---|---|---|
| env | 60 s | ~10 s (imports) |
| attention | 120 s | ~60 s (Flex compiles per shape) |
| each row: build, warm-up, 1 timed pass | min(--row-limit-s, time left) | 32K ~45 s, 64K ~70 s, 128K ~150 s |
| whole call | --budget-s (default 420 s) | ~6-7 minutes; leaves a rerun inside 15 minutes of device time |
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GIB = 2**30


def _env_with_src() -> dict:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stage_env(out: Path, rehearse: bool) -> dict:
    """Versions, the card and its memory, and what the trainer needs from transformers (mm_encoder_outputs)."""
    import torch
    import transformers

    info = {"torch": torch.__version__, "transformers": transformers.__version__, "python": sys.version.split()[0],
            "cuda": torch.cuda.is_available() and not rehearse}
    if info["cuda"]:
        p = torch.cuda.get_device_properties(0)
        info.update(card=p.name, card_gib=p.total_memory / GIB)
    else:
        info.update(card="CPU (rehearsal)", card_gib=None)
    from mmprolong.train.compat import trainer_support

    info["trainer_support"] = trainer_support()
    (out / "env.json").write_text(json.dumps(info, indent=1))
    return info


def run_child(cmd: list[str], limit_s: float, log: Path) -> tuple[str, int | None, float]:
    """Run `cmd` with its output appended to `log`; killed at `limit_s`. -> (status, returncode, seconds)."""
    t0 = time.perf_counter()
    with open(log, "a") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=_env_with_src(), cwd=ROOT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=max(1.0, limit_s))
            return ("ok" if rc == 0 else "failed"), rc, time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            return "timeout", None, time.perf_counter() - t0


def plan_rows(preset: str, lengths: list[int], card_gib: float | None, grid: tuple[int, int],
              cpu: bool = False) -> list[dict]:
    """Rows short to long, ours then baseline, each with the plan's GiB for its setup and whether it fits (CPU:
    fp32 weights, gradients and compute, no CUDA context)."""
    from mmprolong.train.model import extend_context, preset_config
    from mmprolong.train.plan import plan

    config = extend_context(preset_config(preset), max(lengths), rope_theta=4e6)
    vc = config.vision_config
    per_page = grid[0] * grid[1] // vc.spatial_merge_size ** 2
    image_frac = per_page / (per_page + 18)  # bench/train.document: 16 text tokens and two markers per page
    rows = []
    for length in lengths:
        for kind in ("ours", "baseline"):
            if kind == "ours":
                kw = dict(length=length, target_fraction=128 / length)
            else:  # one document per forward, full logits over every token
                kw = dict(length=length // 2, target_fraction=1.0, loss_chunk=length, chunked_loss=False)
            dev = dict(state_bytes=8, act_bytes=4, cuda_context_gib=0.0) if cpu else dict(state_bytes=4)
            est = plan(config, preset, gpus=1, gpu_mem_gib=card_gib or 1e9, image_fraction=image_frac,
                       fsdp=False, **dev, **kw)
            row = {"length": length, "kind": kind, "offload": False, "plan_gib": est.total_gib,
                   "plan_step_s": est.step_seconds}
            if not est.fits and kind == "ours":
                off = plan(config, preset, gpus=1, gpu_mem_gib=card_gib or 1e9, image_fraction=image_frac,
                           fsdp=False, activation_offload=True, **dev, **kw)
                if off.fits:
                    row.update(offload=True, plan_gib=off.total_gib)
                    est = off
            row["fits"] = est.fits
            rows.append(row)
    return rows


def stage_rows(out: Path, args, card_gib: float | None, deadline: float) -> list[dict]:
    from train import markdown_rows  # bench/train.py

    rows = plan_rows(args.preset, args.lengths, card_gib, tuple(args.grid), cpu=args.rehearse)
    done: list[dict] = []
    for row in rows:
        left = deadline - time.perf_counter()
        if not row["fits"]:
            row["error"] = f"predicted not to fit ({row['plan_gib']:.1f} GiB planned, card {card_gib:.0f} GiB)"
        elif left < args.min_row_s:
            row["error"] = f"skipped ({max(left, 0):.0f} s left)"
        else:
            res = out / f"row-{row['kind']}-{row['length']}.json"
            cmd = [sys.executable, str(HERE / "train.py"), "--row", json.dumps(row), "--row-out", str(res),
                   "--preset", args.preset, "--grid", *map(str, args.grid), "--repeats", str(args.repeats)]
            if args.rehearse:
                cmd += ["--cpu", "--fp32"]
            status, rc, sec = run_child(cmd, min(args.row_limit_s, left), out / "rows.log")
            if status == "ok" and res.exists():
                row.update(json.loads(res.read_text()))
            elif status == "timeout":
                row["error"] = f"timeout ({sec:.0f} s)"
            else:
                row["error"] = f"failed (exit {rc}; see rows.log)"
            row["wall_s"] = sec
        done.append(row)
        with open(out / "rows.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        (out / "train.md").write_text(markdown_rows(done, args.preset, card_name(args)))
    return done


def card_name(args) -> str:
    env = json.loads((Path(args.out) / "env.json").read_text())
    return f"{env['card']}, torch {env['torch']}, transformers {env['transformers']}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rehearse", action="store_true", help="CPU, tiny model, short lengths: the same stages")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--lengths", type=int, nargs="+", default=None)
    ap.add_argument("--grid", type=int, nargs=2, default=None)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=420.0, help="the whole call, all stages")
    ap.add_argument("--attention-limit-s", type=float, default=120.0)
    ap.add_argument("--row-limit-s", type=float, default=200.0)
    ap.add_argument("--min-row-s", type=float, default=30.0, help="start no row with less than this left")
    ap.add_argument("--stages", default="env,attention,rows", help="comma-separated subset, in this order")
    ap.add_argument("--card-gib", type=float, default=None, help="override the card's memory (rehearsal: plan "
                                                                   "against this many GiB)")
    args = ap.parse_args(argv)
    if args.rehearse:
        args.preset = args.preset or "tiny-qwen2.5-vl"
        args.lengths = args.lengths or [256, 512]
        args.grid = args.grid or [8, 8]
        args.min_row_s = min(args.min_row_s, 5.0)
    else:
        args.preset = args.preset or "qwen2.5-vl-7b"
        args.lengths = args.lengths or [32768, 65536, 131072]
        args.grid = args.grid or [112, 88]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    deadline = t0 + args.budget_s
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT / "src"))
    env = stage_env(out, args.rehearse)
    print("env:", json.dumps(env), flush=True)
    if not args.rehearse and not env["cuda"]:
        print("no GPU: use --rehearse for the CPU run", file=sys.stderr)
        return 1
    stages = args.stages.split(",")
    status = "ok"
    if "attention" in stages:
        att_cmd = [sys.executable, str(HERE / "gpu_attention_check.py")] + (["--cpu"] if args.rehearse else [])
        status, rc, sec = run_child(att_cmd, min(args.attention_limit_s, deadline - time.perf_counter()),
                                    out / "attention.log")
        print(f"attention: {status} ({sec:.0f} s)", flush=True)
    card_gib = args.card_gib if args.card_gib is not None else env["card_gib"]
    rows = stage_rows(out, args, card_gib, deadline) if "rows" in stages else []
    for r in rows:
        print("row:", json.dumps(r), flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
