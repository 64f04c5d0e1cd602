"""Read a page store: STORE/docs and STORE/pages (Parquet datasets) plus STORE/manifest.json.

Stages read documents through `PageStore.iter_documents()`, which streams the pages dataset in file order and
groups rows by document (the ingester writes each document's pages contiguously), so memory holds one document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.dataset as ds

from .. import schema


@dataclass
class Document:
    """One ok document with its pages (dicts with the PAGES fields; `image` may be omitted)."""

    doc_id: str
    source: str
    n_pages: int
    title: str
    sections: list[dict]
    pages: list[dict] = field(default_factory=list)

    def section_starts(self) -> list[int]:
        return sorted({int(s["first_page"]) for s in self.sections})


class PageStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / "docs").is_dir():
            raise FileNotFoundError(f"{self.root}: not a page store (no docs/ folder); run `mmprolong ingest` first")

    @property
    def manifest(self) -> dict:
        p = self.root / "manifest.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def _dataset(self, name: str, sch: pa.Schema) -> ds.Dataset:
        d = self.root / name
        files = sorted(str(p) for p in d.glob("*.parquet")) if d.is_dir() else []
        return ds.dataset(files, schema=sch, format="parquet")

    def docs_table(self, columns: list[str] | None = None, ok_only: bool = True) -> pa.Table:
        d = self._dataset("docs", schema.DOCS)
        flt = ds.field("status") == "ok" if ok_only else None
        return d.to_table(columns=columns, filter=flt)

    def pages_dataset(self) -> ds.Dataset:
        return self._dataset("pages", schema.PAGES)

    def doc_ids(self) -> list[str]:
        return self.docs_table(columns=["doc_id"]).column("doc_id").to_pylist()

    def document(self, doc_id: str, with_images: bool = True) -> Document:
        docs = self._dataset("docs", schema.DOCS).to_table(
            filter=(ds.field("doc_id") == doc_id) & (ds.field("status") == "ok"))
        if docs.num_rows == 0:
            raise KeyError(f"document {doc_id} not in store {self.root}")
        row = docs.slice(0, 1).to_pylist()[0]
        cols = None if with_images else [c for c in schema.PAGES.names if c != "image"]
        pages = self.pages_dataset().to_table(columns=cols, filter=ds.field("doc_id") == doc_id).to_pylist()
        pages.sort(key=lambda p: p["page"])
        return _doc(row, pages)

    def iter_documents(self, with_images: bool = True, doc_ids: set[str] | None = None,
                       batch_rows: int = 256) -> Iterator[Document]:
        """Stream ok documents with their pages, in store order, one document in memory at a time."""
        docs = {r["doc_id"]: r for r in self.docs_table().to_pylist() if doc_ids is None or r["doc_id"] in doc_ids}
        cols = None if with_images else [c for c in schema.PAGES.names if c != "image"]
        scanner = self.pages_dataset().scanner(columns=cols, batch_size=batch_rows,
                                               filter=ds.field("doc_id").isin(list(docs)) if doc_ids else None)
        cur: str | None = None
        buf: list[dict] = []
        seen: set[str] = set()
        for batch in scanner.to_batches():
            for row in batch.to_pylist():
                if row["doc_id"] != cur:
                    if cur is not None and cur in docs and cur not in seen:
                        seen.add(cur)
                        yield _doc(docs[cur], sorted(buf, key=lambda p: p["page"]))
                    cur, buf = row["doc_id"], []
                buf.append(row)
        if cur is not None and cur in docs and cur not in seen:
            yield _doc(docs[cur], sorted(buf, key=lambda p: p["page"]))


def _doc(row: dict, pages: list[dict]) -> Document:
    return Document(doc_id=row["doc_id"], source=row["source"], n_pages=int(row["n_pages"]),
                    title=row.get("title") or "", sections=list(row.get("sections") or []), pages=pages)
