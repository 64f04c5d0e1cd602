"""The eval tests' inputs: demo PDFs ingested into a store, and QA rows on their planted facts."""

from __future__ import annotations

import json
from pathlib import Path

from mmprolong.cli.main import main
from mmprolong.corpus.filters import sha256_file
from mmprolong.demo.corpus import plan_demo_corpus, write_demo_corpus


def write_demo_qa(root: Path, pages: tuple[int, int], n_docs: int = 3) -> Path:
    """ROOT/pdfs (demo PDFs), ROOT/store (ingested) and ROOT/qa.jsonl (two questions per document, answered on
    the page the demo corpus planted the fact on); returns ROOT."""
    paths = write_demo_corpus(root / "pdfs", n_docs=n_docs, pages=pages)
    assert main(["ingest", str(root / "pdfs"), "--out", str(root / "store"), "--workers", "1", "--quiet"]) == 0
    rows = []
    for path, plan in zip(paths, plan_demo_corpus(n_docs, 0, pages)):
        for f in plan.facts[:2]:
            rows.append({"doc_id": sha256_file(path), "question": f"What was the {f.attribute} of {f.subject} "
                         f"in {f.when}?", "answer": f.value, "answer_format": "String", "evidence_pages": [f.page],
                         "evidence_sources": [f.source]})
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
