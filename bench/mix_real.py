"""Task mix, budget and documents lost to the mix in real builds (bench/results/mix_real.md): shipped recipes over a
page store with the offline rules generator in place of the teacher, and the mix each build achieved.

    python bench/mix_real.py STORE WORKDIR [--workers 2] [--runs NAME...] [--baseline SRC]
    python bench/mix_real.py --demo WORKDIR ...          # the demo corpus (generated, ingested into WORKDIR)

Runs: `histogram-8k-128k` (40/40/20, every document cut to windows) with per_document 3 (budget 6M tokens) and with
per_document 1 (budget 5B: the pool runs out, every document is read), the paper recipe `paper-qwen2.5-vl-7b` as
shipped (pool-native 32-50 pages, per_document 1, 5B budget) and a 60/40 extraction mix. "Lost to the mix": a
document that gave a verified instance (kept, or left out for the mix) and contributes none. `--baseline SRC`
runs the same builds with another checkout's src/ (e.g. the code before the quota kept every document's instance)
in a subprocess, for a side-by-side row. Prints one markdown table row per run and writes WORKDIR/mix_real.json.
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
    "histogram 40/40/20, per_document 1": ("histogram-8k-128k", {"per_document": 1}),
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
    kept_docs = set(read_table(str(out), "shards", ["doc_id"]).column("doc_id").to_pylist())
    rej = read_table(str(out), "rejected", ["doc_id", "reason"]).to_pylist()
    gave = kept_docs | {r["doc_id"] for r in rej if r["reason"].startswith("mix")}
    want = {t: w for t, w in recipe.mixture.tasks.as_dict().items() if w > 0}
    n = len(tasks)
    achieved = {t: tasks.count(t) for t in want}
    return {"run": name, "recipe": base, "changes": changes, "instances": n, "tokens": s.tokens,
            "budget": s.budget_tokens, "pool_exhausted": s.pool_exhausted, "docs_done": s.docs_done,
            "docs_planned": s.docs_planned, "achieved": achieved, "docs_gave": len(gave),
            "docs_lost_to_mix": len(gave - kept_docs),
            "points_off": {t: round(100 * (achieved[t] / n - w / sum(want.values())), 2) if n else None
                           for t, w in want.items()},
            "rejected_by_reason": s.rejected_by_reason, "seconds": round(time.perf_counter() - t0, 1)}


def row(r: dict) -> str:
    mix = " / ".join(str(v) for v in r["achieved"].values())
    off = " / ".join(f"{v:+.1f}" for v in r["points_off"].values()) if r["instances"] else "-"
    pool = (f"**ran out** ({r['docs_done']} of {r['docs_planned']} documents)" if r["pool_exhausted"]
            else f"{r['docs_done']} of {r['docs_planned']} documents read")
    rej = r["rejected_by_reason"]
    lost = f"{r['docs_lost_to_mix']} of {r['docs_gave']} ({100 * r['docs_lost_to_mix'] / max(1, r['docs_gave']):.1f}%)"
    return (f"| {r.get('code', 'this')} | {r['run']} | {r['instances']} | {r['tokens']:,} "
            f"({100 * r['tokens'] / r['budget']:.2f}%) | {mix} ({off}) | {pool} | {lost} | {rej.get('mix', 0)} | "
            f"{rej.get('no-qa', 0)} | {r['seconds']:.0f} |")


def demo_store(work: Path) -> str:
    """The demo corpus (40 documents), ingested at 144 DPI without OCR."""
    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.demo.corpus import write_demo_corpus

    store = work / "demo-store"
    if not (store / "manifest.json").exists():
        pdfs = write_demo_corpus(work / "demo-pdfs", n_docs=40)
        ingest([str(p) for p in pdfs], store, IngestConfig(ocr="off", progress=False))
    return str(store)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store", nargs="?")
    ap.add_argument("work", type=Path)
    ap.add_argument("--demo", action="store_true", help="build over the demo corpus (STORE not given)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", nargs="*", default=list(RUNS))
    ap.add_argument("--baseline", help="another checkout's src/ to run the same builds with, for comparison")
    ap.add_argument("--label", default="this", help="name of the code in the table")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    store = demo_store(a.work) if a.demo else a.store
    results = []
    if a.baseline:
        import os
        import subprocess
        import sys

        sub = a.work / "baseline"
        subprocess.run([sys.executable, __file__, store, str(sub), "--workers", str(a.workers), "--label",
                        "before", "--runs", *a.runs], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONPATH=a.baseline))
        results += json.loads((sub / "mix_real.json").read_text())
    for name in a.runs:
        results.append(run(name, store, a.work, a.workers) | {"code": a.label})
    (a.work / "mix_real.json").write_text(json.dumps(results, indent=1))
    print("| code | run | instances | tokens (of budget) | achieved mix (points off) | pool | documents lost to the "
          "mix | left out for the mix | no-qa | s |\n|---|---|---:|---:|---|---|---:|---:|---:|---:|")
    for r in results:
        print(row(r))


if __name__ == "__main__":
    main()
