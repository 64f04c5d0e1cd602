"""Training mixtures at the paper's scale: packing 100/0 vs 60/40 long/short (data.sources) into 128K sequences,
and `import-sft` throughput on LLaVA-style rows.

Packing runs on in-memory indexes with the paper's shape (5B tokens, 32 x 131,072 per step; long instances of
32.8K-126.8K tokens, the pool-native range; short instruction samples of 150-4,000 tokens, LLaVA-665K-like, 665K of
them), so it measures the algorithm and the step plan a run computes at start, not disk reads. Import runs the real
`import_sft` on generated JPEGs, one process.

Writes bench/results/mixture.md and prints it.
Usage: python bench/mixture.py [--rows N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device import cpu_name  # noqa: E402  bench/device.py

from mmprolong.train.data import DataStream, ShardIndex  # noqa: E402

HERE = Path(__file__).resolve().parent
L, SEQS, BUDGET = 131072, 32, 5_000_000_000


def fake_index(lengths: np.ndarray, seed: tuple[int, ...], rows_per_group: int = 64) -> ShardIndex:
    """A ShardIndex over token counts alone (no files), row groups of `rows_per_group` as the writers make them."""
    ix = ShardIndex.__new__(ShardIndex)
    ix.files, ix.seed, ix.max_length = [], seed, L
    ix._tokens = [lengths[i:i + rows_per_group].astype(np.int64) for i in range(0, len(lengths), rows_per_group)]
    ix.groups = [(0, g, len(t)) for g, t in enumerate(ix._tokens)]
    ix.epoch_size = len(lengths)
    ix._cache, ix._tok_cache = {}, {}
    return ix


def pools(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    long = rng.integers(32_800, 126_800, size=60_000)
    short = np.clip(rng.lognormal(np.log(600), 0.7, size=665_000), 150, 4000).astype(np.int64)
    return long, short


def run_mix(long: np.ndarray, short: np.ndarray, weights: dict[str, float]) -> dict:
    names = list(weights)
    idx = [fake_index(long if n == "long" else short, (0, k)) for k, n in enumerate(names)]
    stream = DataStream(names, idx, [weights[n] for n in names])
    t0 = time.perf_counter()
    steps = stream.steps_for_tokens(SEQS, BUDGET)
    plan_s = time.perf_counter() - t0
    state, per_step, samples = stream.initial_state(), [], 0
    t0 = time.perf_counter()
    for _ in range(steps):
        packs, state = stream.next_packs(state, SEQS)
        per_step.append(stream.tokens_by_source(packs))
        samples += sum(len(p) for p in packs)
    pack_s = time.perf_counter() - t0
    tot = {n: sum(s[n] for s in per_step) for n in names}
    all_tokens = sum(tot.values())
    wsum = sum(weights.values())
    dev = [max(abs(s[n] / sum(s.values()) - weights[n] / wsum) for n in names) for s in per_step]
    return {"mix": "/".join(f"{n} {weights[n]:g}" for n in names), "steps": steps, "tokens": all_tokens,
            "fill": all_tokens / (steps * SEQS * L), "shares": {n: tot[n] / all_tokens for n in names},
            "step_dev_max": max(dev), "step_dev_p99": float(np.percentile(dev, 99)), "samples": samples,
            "plan_s": plan_s, "samples_per_s": samples / pack_s,
            "epochs": {n: round(v, 2) for n, v in stream.epochs(state).items()}}


def bench_import(n_rows: int) -> list[dict]:
    from PIL import Image

    from mmprolong.dataset.import_sft import ImportSettings, import_sft

    out = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rng = np.random.default_rng(0)
        sizes = [(640, 480), (500, 375), (1024, 768), (2048, 1536)]
        for k, (w, h) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(d / f"{k}.jpg", quality=90)
        rows = [{"id": str(i), "image": f"{i % 4}.jpg", "conversations": [
            {"from": "human", "value": f"<image>\nWhat is shown in picture {i}? Answer in one sentence."},
            {"from": "gpt", "value": "A field of random coloured noise, " + "quite dense " * (i % 7)}]}
            for i in range(n_rows)]
        (d / "llava.json").write_text(json.dumps(rows))
        for mp, workers in ((None, 1), (1_003_520, 1), (1_003_520, 2)):
            t0 = time.perf_counter()
            s = import_sft([d / "llava.json"], d / f"out-{mp}-{workers}", ImportSettings(max_pixels=mp),
                           progress=False, workers=workers)
            dt = time.perf_counter() - t0
            out.append({"max_pixels": f"{mp or 12_845_056:,}", "workers": workers, "rows": s.rows,
                        "samples": s.samples, "tokens": s.tokens, "resized": s.resized_images, "seconds": dt,
                        "rows_per_s": s.rows / dt})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--out", default=str(HERE / "results" / "mixture.md"))
    a = ap.parse_args()
    long, short = pools(np.random.default_rng(0))
    mixes = [run_mix(long, short, {"long": 1.0}), run_mix(long, short, {"long": 0.6, "short": 0.4})]
    imp = bench_import(a.rows)
    lines = ["# Training mixtures (data.sources) and import-sft", "",
             f"{datetime.date.today()}, {cpu_name()}, Python {platform.python_version()}, one process "
             "(a shared machine: other jobs were running).", "",
             f"## Packing at the paper's scale: {BUDGET:,} tokens, {SEQS} x {L:,} per step", "",
             f"Long pool: {len(long):,} instances, {long.min():,}-{long.max():,} tokens (mean {long.mean():,.0f}); "
             f"short pool: {len(short):,} samples, {short.min()}-{short.max():,} (mean {short.mean():,.0f}).", "",
             "| mix | steps | pack fill | realised shares | worst step's share error | p99 step error | samples | "
             "epochs at end | step plan (s) | packing (samples/s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in mixes:
        shares = ", ".join(f"{n} {v:.3%}" for n, v in m["shares"].items())
        epochs = ", ".join(f"{n} {v}" for n, v in m["epochs"].items())
        lines.append(f"| {m['mix']} | {m['steps']:,} | {m['fill']:.2%} | {shares} | {m['step_dev_max']:.2%} | "
                     f"{m['step_dev_p99']:.2%} | {m['samples']:,} | {epochs} | {m['plan_s']:.1f} | "
                     f"{m['samples_per_s']:,.0f} |")
    lines += ["", "Pack fill: packed tokens / (steps x 32 x 131,072); samples are whole, so packs are never quite "
              "full. A step's share error: |source tokens / step tokens - weight|, the largest over sources. Step "
              "plan: `DataStream.steps_for_tokens`, which every rank runs at start.", "",
              f"## import-sft: {a.rows} LLaVA-style rows (one JPEG each: 640x480, 500x375, 1024x768, 2048x1536 of "
              "random noise, the slowest kind to decode)", "",
              "| max_pixels | workers | rows | samples | tokens | images resized | seconds | rows/s |",
              "|---|---|---|---|---|---|---|---|"]
    for r in imp:
        lines.append(f"| {r['max_pixels']} | {r['workers']} | {r['rows']} | {r['samples']} | {r['tokens']:,} | "
                     f"{r['resized']} | {r['seconds']:.1f} | {r['rows_per_s']:.1f} |")
    text = "\n".join(lines) + "\n"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
