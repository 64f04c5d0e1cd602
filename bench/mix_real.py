"""Task mix and budget of real builds (bench/results/mix_real.md): shipped recipes over a real page store with the
offline rules generator in place of the teacher, and the mix each build achieved against its recipe.

    python bench/mix_real.py STORE WORKDIR [--workers 2]

Runs: `histogram-8k-128k` (40/40/20, every document cut to windows, per_document 3, budget 6M tokens), the paper
recipe `paper-qwen2.5-vl-7b` as shipped (pool-native 32-50 pages, per_document 1, 5B budget: the pool runs out) and
a 60/40 extraction mix (histogram lengths). Prints one markdown table row per run and writes WORKDIR/mix_real.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mmprolong.dataset.build import build
from mmprolong.dataset.parts import read_table
from mmprolong.recipe import load_recipe, parse_recipe

RUNS = {
    "histogram 40/40/20": ("histogram-8k-128k", {"per_document": 3, "budget_tokens": 6.0e6}),
    "paper recipe 40/40/20": ("paper-qwen2.5-vl-7b", {}),
    "histogram 60/40": ("histogram-8k-128k", {"per_document": 3, "budget_tokens": 6.0e6,
                                              "mixture": {"tasks": {"extract-single": 0.6, "extract-multi": 0.4}}}),
}


def run(name: str, store: str, work: Path, workers: int) -> dict:
    base, changes = RUNS[name]
    data = load_recipe(base).model_dump(mode="json", exclude_unset=True)
    data.update(changes, generator={"kind": "rules"})
    recipe = parse_recipe(data)
    out = work / name.replace(" ", "-").replace("/", "_")
    t0 = time.perf_counter()
    s = build(recipe, store, out, workers=workers, progress=False)
    tasks = read_table(str(out), "shards", ["task"]).column("task").to_pylist() if s.samples else []
    want = {t: w for t, w in recipe.mixture.tasks.as_dict().items() if w > 0}
    n = len(tasks)
    achieved = {t: tasks.count(t) for t in want}
    return {"run": name, "recipe": base, "changes": changes, "instances": n, "tokens": s.tokens,
            "budget": s.budget_tokens, "pool_exhausted": s.pool_exhausted, "docs_done": s.docs_done,
            "docs_planned": s.docs_planned, "achieved": achieved,
            "points_off": {t: round(100 * (achieved[t] / n - w / sum(want.values())), 2) if n else None
                           for t, w in want.items()},
            "rejected_by_reason": s.rejected_by_reason, "seconds": round(time.perf_counter() - t0, 1)}


def row(r: dict) -> str:
    mix = " / ".join(str(v) for v in r["achieved"].values())
    off = " / ".join(f"{v:+.1f}" for v in r["points_off"].values()) if r["instances"] else "-"
    pool = (f"**ran out** ({r['docs_done']} of {r['docs_planned']} documents)" if r["pool_exhausted"]
            else f"{r['docs_done']} of {r['docs_planned']} documents read")
    rej = r["rejected_by_reason"]
    return (f"| {r['run']} | {r['instances']} | {r['tokens']:,} ({100 * r['tokens'] / r['budget']:.2f}%) | "
            f"{mix} ({off}) | {pool} | {rej.get('mix', 0)} | {rej.get('no-qa', 0)} | {r['seconds']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("work", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", nargs="*", default=list(RUNS))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    results = [run(name, a.store, a.work, a.workers) for name in a.runs]
    (a.work / "mix_real.json").write_text(json.dumps(results, indent=1))
    print("| run | instances | tokens (of budget) | achieved mix (points off) | pool | left out for the mix | "
          "no-qa | s |\n|---|---:|---:|---|---|---:|---:|---:|")
    for r in results:
        print(row(r))


if __name__ == "__main__":
    main()
