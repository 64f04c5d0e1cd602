"""A synthetic build folder of any size for the view's benchmark and tests: the files a build writes (qa/,
rejected/, shards/ parts per schema.py, manifest.json naming a real page store), with made-up QA over the store's
documents and shards without images (the view never reads them). Not training data: the manifest says so.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..dataset.parts import REJECTED

TASKS = ("extract-single", "extract-multi", "reasoning", "ocr-full", "ocr-needle")
BUCKETS = ((4096, 8192), (8192, 16384), (16384, 32768), (32768, 65536), (65536, 131072))
CHECKS = ("no_scope_anchor", "answer_not_in_evidence", "evidence_outside_scope", "format_mismatch",
          "recompute_mismatch")


def _label(a: int, b: int) -> str:
    return f"{a // 1024}K-{b // 1024}K"


def write_synthetic_build(out: str | Path, store: str | Path, n_kept: int, n_rejected: int, part_rows: int = 2000,
                          seed: int = 0) -> Path:
    """OUT with n_kept instances and n_rejected candidates over the documents of `store`, in parts of part_rows."""
    from ..corpus.store import PageStore

    out = Path(out)
    for d in ("qa", "rejected", "shards"):
        (out / d).mkdir(parents=True, exist_ok=True)
    docs = PageStore(store).docs_table(columns=["doc_id", "n_pages"]).to_pylist()
    rng = random.Random(seed)

    def qa(i: int) -> dict:
        d = docs[i % len(docs)]
        n = int(d["n_pages"])
        p = rng.randrange(n)
        task = TASKS[rng.choices(range(5), (3, 3, 2, 1, 1))[0]]
        return {"qa_id": f"syn{i:09d}", "doc_id": d["doc_id"], "task": task, "segment_first": max(0, p - 2),
                "segment_last": min(n - 1, p + 2),
                "question": f"On page {p + 1}, what was the value reported for item {i} in year {2000 + i % 20}?",
                "answer": str(1000 + i % 9000), "answer_format": "Integer", "evidence_pages": [p],
                "evidence_sources": ["Text"], "evidence": f'Page {p + 1}: "item {i} was {1000 + i % 9000}".',
                "generator": "synthetic", "checks_passed": ["task_known", "scope_anchor", "answer_in_evidence"],
                "checks_failed": []}

    def write(name: str, rows: list[dict], sch: pa.Schema, k: int) -> None:
        pq.write_table(pa.Table.from_pylist(rows, schema=sch), out / name / f"part-{k:05d}.parquet")

    for k, start in enumerate(range(0, n_kept, part_rows)):
        rows = [qa(i) for i in range(start, min(n_kept, start + part_rows))]
        shards = []
        for r in rows:
            a, b = BUCKETS[rng.randrange(len(BUCKETS))]
            n_pages = rng.randint(4, 60)
            shards.append({"sample_id": "s" + r["qa_id"], "doc_id": r["doc_id"], "qa_id": r["qa_id"],
                           "task": r["task"], "pages": list(range(n_pages)), "messages": "[]", "images": [],
                           "image_sizes": [], "max_pixels": 1003520, "target": r["answer"],
                           "n_tokens": rng.randint(a, b - 1), "n_image_tokens": 0, "depth": rng.random(),
                           "bucket": _label(a, b), "recipe_hash": "synthetic"})
        write("qa", rows, schema.QA, k)
        write("shards", shards, schema.SAMPLES, k)
    for k, start in enumerate(range(0, n_rejected, part_rows)):
        rows = []
        for i in range(start, min(n_rejected, start + part_rows)):
            r = qa(n_kept + i)
            if i % 3 == 0:
                r["reason"] = f"mix: {r['task']} over its share"
            else:
                failed = rng.sample(CHECKS, rng.randint(1, 2))
                r["checks_failed"] = failed
                r["reason"] = "verify: " + ", ".join(failed)
            rows.append(r)
        write("rejected", rows, REJECTED, k)
    (out / "manifest.json").write_text(json.dumps({
        "synthetic": "made by mmprolong.view.synthetic for benchmarks and tests; not training data",
        "recipe_hash": "synthetic", "recipe": {"name": "synthetic"},
        "summary": {"samples": n_kept, "qa_kept": n_kept, "rejected": n_rejected},
        "store": {"path": str(store)}}, indent=2))
    return out
