"""Build throughput on the demo corpus with the rules generator: the local executor with 1 vs 2 workers, side by
side in one run on the same page store and recipe (recipes/demo.yaml, budget lifted so every planned document is
processed). Also checks that both runs wrote byte-identical shards.

Writes bench/results/build.md and prints it.
Usage: python bench/build.py [--docs N] [--repeats R] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from device import cpu_name  # bench/device.py

HERE = Path(__file__).resolve().parent




def _shards(out: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted((out / "shards").glob("*.parquet"))}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=24, help="demo documents (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting; the best is kept (default %(default)s)")
    ap.add_argument("--out", default=str(HERE / "results" / "build.md"))
    args = ap.parse_args(argv)

    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.dataset.build import build
    from mmprolong.dataset.parts import read_table
    from mmprolong.demo.corpus import write_demo_corpus
    from mmprolong.recipe import load_recipe

    recipe = load_recipe("demo").model_copy(update={"budget_tokens": 10**12})
    tmp = Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        write_demo_corpus(tmp / "pdfs", n_docs=args.docs, seed=0)
        ingest([str(tmp / "pdfs")], tmp / "store", IngestConfig(workers=2, progress=False))
        results = {}
        for workers in (1, 2):
            best = None
            for k in range(args.repeats):
                out = tmp / f"out-{workers}-{k}"
                t0 = time.perf_counter()
                s = build(recipe, tmp / "store", out, executor="local", workers=workers, progress=False,
                          report=False)
                dt = time.perf_counter() - t0
                if best is None or dt < best[0]:
                    best = (dt, s, out)
            dt, s, out = best
            pages = sum(len(p) for p in read_table(out, "shards", ["pages"]).column("pages").to_pylist())
            results[workers] = {"seconds": dt, "samples": s.samples, "tokens": s.tokens, "pages": pages,
                                "docs": s.docs_done, "shards": _shards(out)}
        # the per-document stage alone, serially in this process: what the executors parallelise
        from mmprolong.corpus.store import PageStore
        from mmprolong.dataset.document import process_document
        from mmprolong.dataset.planner import make_plan
        from mmprolong.recipe import recipe_hash

        store = PageStore(tmp / "store")
        plan = make_plan(recipe, store)
        slots = {d.doc_id: d.slots for d in plan.docs}
        t0 = time.perf_counter()
        docs = list(store.iter_documents(doc_ids=set(slots)))
        t_read = time.perf_counter() - t0
        rhash = recipe_hash(recipe)
        process_document(docs[0], slots[docs[0].doc_id], recipe, rhash, plan.edges)  # warm caches
        t0 = time.perf_counter()
        for doc in docs:
            process_document(doc, slots[doc.doc_id], recipe, rhash, plan.edges)
        t_stage = time.perf_counter() - t0
        same = results[1]["shards"] == results[2]["shards"]
        r1, r2 = results[1], results[2]
        load = os.getloadavg()[0]
        rows = []
        for w, r in results.items():
            rows.append(f"| local, {w} worker{'s' if w > 1 else ''} | {r['docs']} | {r['samples']} | {r['pages']} | "
                        f"{r['tokens']:,} | {r['seconds']:.2f} | {r['samples'] / r['seconds']:.2f} | "
                        f"{r['pages'] / r['seconds']:.1f} | {r['tokens'] / r['seconds']:,.0f} |")
        md = "\n".join([
            "# Dataset build throughput (`mmprolong build`, demo recipe, rules generator)", "",
            f"- date: {datetime.date.today().isoformat()}; device: {cpu_name()}, {os.cpu_count()} cores visible "
            f"(shared machine, load average {load:.1f} at the end of the run); Python {platform.python_version()}",
            f"- input: the demo corpus, {args.docs} PDFs ingested at 144 DPI; recipe `demo` (32K max length, "
            f"histogram 4K-32K, 3 instances per document) with the budget lifted; best of {args.repeats} runs. "
            "Wall time includes planning, worker start-up, the Parquet writes and the final manifest "
            "(not the report).",
            "- pages/s counts page images placed into instances.", "",
            "| executor | docs | instances | pages | tokens | seconds | instances/s | pages/s | tokens/s |",
            "|---|---|---|---|---|---|---|---|---|", *rows, "",
            f"Per-document stage alone, serially in one process (no executor, no writes): "
            f"{1000 * t_stage / len(docs):.0f} ms/document; reading documents from the store: "
            f"{1000 * t_read / len(docs):.0f} ms/document (done by the driver, in parallel with the workers).", "",
            "Reading: the driver streams each planned document from the store, sends it to a worker and writes the "
            "returned rows (Parquet, zstd); a build also pays a fixed cost (plan, worker start-up, manifest) of about "
            "1-2 s here. With the rules generator the per-document stage is about as cheap as the driver's share, so "
            "more workers help little on this corpus; with a teacher model (openai generator) the stage dominates and "
            "workers run its requests in parallel.", "",
            f"2 workers vs 1: **{r1['seconds'] / r2['seconds']:.2f}x** wall-time speed-up. "
            f"Shards byte-identical between the two runs: **{'yes' if same else 'NO'}**."
            + (f" The load average ({load:.1f}) exceeded the {os.cpu_count()} cores during this run (other jobs), "
               "so the second worker had no free core: the speed-up figure says nothing about scaling here; "
               "rerun on an idle machine." if load >= (os.cpu_count() or 1) else ""), ""])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(md)
        print(md)
        return 0 if same else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
