"""QA items with gold documents: MMLongBench document-QA fields or our own synthesized QA records.

Accepted files: JSONL, a JSON array, or Parquet (schema.QA rows from synthesis; rejected records are skipped).
Required fields: doc_id (a page-store doc_id), question, answer. Optional: answer_format, evidence_pages
(0-based), evidence_sources, dataset, qa_id. A QA file (or a folder of Parquet parts) may be a local path or an
fsspec URL (s3://..., memory://...; `mmprolong.storage`).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from .. import storage

FORMATS = {"str": "String", "string": "String", "int": "Integer", "integer": "Integer", "float": "Float",
           "list": "List", "none": "None", "": "String"}


@dataclass
class QAItem:
    qa_id: str
    dataset: str
    doc_id: str
    question: str
    answer: str
    answer_format: str = "String"
    evidence_pages: list[int] = field(default_factory=list)
    evidence_sources: list[str] = field(default_factory=list)
    task: str = ""


def normalize_format(fmt: str | None) -> str:
    key = (fmt or "").strip().lower()
    if key not in FORMATS:
        raise ValueError(f"unknown answer_format {fmt!r}; use one of String, Integer, Float, List, None")
    return FORMATS[key]


def item_from_row(row: dict, dataset: str) -> QAItem:
    for k in ("doc_id", "question", "answer"):
        if row.get(k) in (None, ""):
            raise ValueError(f"QA row lacks {k!r}: {json.dumps(row, ensure_ascii=False)[:160]}")
    answer = row["answer"]
    if not isinstance(answer, str):
        answer = json.dumps(answer, ensure_ascii=False)
    qa_id = row.get("qa_id") or hashlib.sha256(
        json.dumps([row["doc_id"], row["question"], answer], ensure_ascii=False).encode()).hexdigest()[:24]
    return QAItem(qa_id=qa_id, dataset=row.get("dataset") or dataset, doc_id=row["doc_id"],
                  question=row["question"], answer=answer, answer_format=normalize_format(row.get("answer_format")),
                  evidence_pages=[int(p) for p in (row.get("evidence_pages") or [])],
                  evidence_sources=list(row.get("evidence_sources") or []), task=row.get("task") or "")


def _read_parquet(url: str):
    """A Parquet file or a folder of parts (a synthesis `qa/`), local or on a URL."""
    if storage.is_local(url):
        return pq.read_table(storage.local_path(url))
    fs, path = storage.arrow_filesystem(url)
    return pq.read_table(path, filesystem=fs, use_threads=storage.scan_threads(url))


def load_qa(path: str | Path, dataset: str | None = None) -> list[QAItem]:
    url = storage.normalize(path)
    if not storage.exists(url):
        raise FileNotFoundError(f"{url}: no such QA file")
    base = storage.name(url)
    suffix = posixpath.splitext(base)[1]
    ds_name = dataset or posixpath.splitext(base)[0]
    if suffix == ".parquet" or storage.isdir(url):
        rows = _read_parquet(url).to_pylist()
        rows = [r for r in rows if not r.get("checks_failed")]
    elif suffix == ".json":
        rows = json.loads(storage.read_text(url))
    else:
        rows = [json.loads(ln) for ln in storage.read_text(url).splitlines() if ln.strip()]
    return [item_from_row(r, ds_name) for r in rows]


def write_qa(path: str | Path, items: list[QAItem]) -> None:
    """The items as JSONL, committed whole (`storage.write_text`), to a local path or a URL."""
    from dataclasses import asdict
    storage.write_text(path, "".join(json.dumps(asdict(i), ensure_ascii=False) + "\n" for i in items))
