"""QA items with gold documents: MMLongBench document-QA fields or our own synthesized QA records.

Accepted files: JSONL, a JSON array, or Parquet (schema.QA rows from synthesis; rejected records are skipped).
Required fields: doc_id (a page-store doc_id), question, answer. Optional: answer_format, evidence_pages
(0-based), evidence_sources, dataset, qa_id. A QA file (or a folder of Parquet parts) may be a local path or an
fsspec URL (s3://..., memory://...; `mmprolong.storage`).

A row that cannot be read is an error naming the file, the row (1-based) and the field: a missing or null field, an
unknown answer_format, an evidence page that is not a whole number.
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
    if fmt is not None and not isinstance(fmt, str):
        raise ValueError(f"answer_format {fmt!r} is a {type(fmt).__name__}, not a format name")
    key = (fmt or "").strip().lower()
    if key not in FORMATS:
        raise ValueError(f"unknown answer_format {fmt!r}; use one of String, Integer, Float, List, None")
    return FORMATS[key]


def page_list(v, field: str = "evidence_pages", shown=None) -> list[int]:
    """Whole page numbers from a list (of ints or digit strings) or one int; anything else (a range "3-5", a float,
    text) is a ValueError naming the field and the value (`shown`: the value as the file has it)."""
    items = v if isinstance(v, (list, tuple)) else [v]
    out = []
    for p in items:
        if isinstance(p, bool) or not (isinstance(p, int) or (isinstance(p, str) and p.strip().lstrip("+-").isdigit())):
            whole = v if shown is None else shown
            raise ValueError(f"{field}: {p!r} is not a page number (in {str(whole)[:80]!r})")
        out.append(int(p))
    return out


def check_required(row: dict, keys=("doc_id", "question", "answer")) -> None:
    """ValueError naming the first required field that is missing, null or empty."""
    for k in keys:
        if k not in row:
            raise ValueError(f"no field {k!r}; the row has {sorted(row)[:12]}")
        if row[k] is None:
            raise ValueError(f"{k} is null")
        if row[k] == "":
            raise ValueError(f"{k} is empty")


def item_from_row(row: dict, dataset: str) -> QAItem:
    check_required(row)
    answer = row["answer"]
    if not isinstance(answer, str):
        answer = json.dumps(answer, ensure_ascii=False)
    qa_id = row.get("qa_id") or hashlib.sha256(
        json.dumps([row["doc_id"], row["question"], answer], ensure_ascii=False).encode()).hexdigest()[:24]
    return QAItem(qa_id=qa_id, dataset=row.get("dataset") or dataset, doc_id=row["doc_id"],
                  question=row["question"], answer=answer, answer_format=normalize_format(row.get("answer_format")),
                  evidence_pages=page_list(row.get("evidence_pages") or []),
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
        rows = [(f"row {i}", r) for i, r in enumerate(_read_parquet(url).to_pylist(), 1)]
        rows = [(w, r) for w, r in rows if not r.get("checks_failed")]
    elif suffix == ".json":
        try:
            data = json.loads(storage.read_text(url))
        except json.JSONDecodeError as e:
            raise ValueError(f"{url}:{e.lineno}:{e.colno}: bad JSON: {e.msg}") from None
        if not isinstance(data, list):
            raise ValueError(f"{url}: a JSON QA file is a list of rows, got {type(data).__name__}")
        rows = [(f"item {i}", r) for i, r in enumerate(data, 1)]
    else:
        rows = []
        for i, ln in enumerate(storage.read_text(url).splitlines(), 1):
            if ln.strip():
                try:
                    rows.append((f"line {i}", json.loads(ln)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{url}:{i}:{e.colno}: bad JSON: {e.msg}") from None
    items = []
    for where, r in rows:
        try:
            if not isinstance(r, dict):
                raise ValueError(f"a QA row must be a JSON object, got {type(r).__name__}")
            items.append(item_from_row(r, ds_name))
        except (ValueError, TypeError) as e:
            raise ValueError(f"{url}: {where}: {e}") from None
    return items


def write_qa(path: str | Path, items: list[QAItem]) -> None:
    """The items as JSONL, committed whole (`storage.write_text`), to a local path or a URL."""
    from dataclasses import asdict
    storage.write_text(path, "".join(json.dumps(asdict(i), ensure_ascii=False) + "\n" for i in items))
