"""Read a page store: STORE/docs and STORE/pages (Parquet datasets) plus STORE/manifest.json. STORE is a local
folder or an fsspec URL (s3://bucket/store, memory://...; `mmprolong.storage`); `root` is a Path for a local store and
the URL string otherwise, `url` always a string.

Stages read documents through `PageStore.iter_documents()`, which streams the pages dataset in file order and
groups rows by document (the ingester writes each document's pages contiguously), so memory holds one document.
Random access (`locate`, `document`, `read_pages`) goes through a row-group index (doc_id -> the pages files and
row groups that hold its pages), built once per store object: from the docs rows' `pages_file` / `page_row_groups`
(corpus/writer.py) and, for rows written before those columns, from the doc_id column of the pages files no docs
row names: doc_ids are hashes, so Parquet's min/max statistics cannot prune row groups, and a filtered scan would
read every row group of a large store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.dataset as ds

from .. import schema, storage


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
        self.url = storage.normalize(root)
        self.root = storage.local_path(self.url) if storage.is_local(self.url) else self.url
        self.threads = storage.scan_threads(self.url)
        if not (storage.isdir(storage.join(self.url, "docs")) or storage.exists(storage.join(self.url, "manifest.json"))):
            raise FileNotFoundError(f"{self.url}: not a page store (no docs/ folder); run `mmprolong ingest` first")

    @property
    def manifest(self) -> dict:
        p = storage.join(self.url, "manifest.json")
        return json.loads(storage.read_text(p)) if storage.exists(p) else {}

    def _files(self, name: str) -> list[str]:
        d = storage.join(self.url, name)
        return [storage.join(d, n) for n in storage.listdir(d, ".parquet")]

    def _dataset(self, name: str, sch: pa.Schema) -> ds.Dataset:
        return storage.parquet_dataset(self._files(name), sch, base=self.url)

    def docs_table(self, columns: list[str] | None = None, ok_only: bool = True) -> pa.Table:
        d = self._dataset("docs", schema.DOCS)
        flt = ds.field("status") == "ok" if ok_only else None
        return d.to_table(columns=columns, filter=flt, use_threads=self.threads)

    def pages_dataset(self) -> ds.Dataset:
        """Every committed pages file as one dataset: the files the docs rows name when they all name theirs (no
        listing of pages/, which at the paper's scale is 1.5M objects), else a listing (stores written before the
        location columns)."""
        return storage.parquet_dataset(self._pages_files(), schema.PAGES, base=self.url)

    def _pages_files(self) -> list[str]:
        t = self.docs_table(columns=["pages_file", "page_row_groups"])
        names = t.column("pages_file").to_pylist()
        if all(n and rgs is not None for n, rgs in zip(names, t.column("page_row_groups").to_pylist())):
            pages_dir = storage.join(self.url, "pages")
            return [storage.join(pages_dir, n) for n in sorted(set(names))]
        return self._files("pages")

    def doc_ids(self) -> list[str]:
        return self.docs_table(columns=["doc_id"]).column("doc_id").to_pylist()

    def page_index(self) -> dict[str, list[tuple[str, int]]]:
        """doc_id -> [(pages file, row group)] holding its pages (built on first use): from the docs rows' location
        columns, and, only when some row has none (stores written before them), by scanning the doc_id column of
        the pages files that no docs row names. A store whose rows all say where their pages are is never listed
        (a listing of 1.5M pages files on object storage is minutes of requests)."""
        if getattr(self, "_index", None) is None:
            index: dict[str, list[tuple[str, int]]] = {}
            pages_dir = storage.join(self.url, "pages")
            named: set[str] = set()
            unlocated = 0
            located = self.docs_table(columns=["doc_id", "pages_file", "page_row_groups"])
            for d, f, rgs in zip(*(located.column(c).to_pylist() for c in located.column_names)):
                if f and rgs is not None:
                    named.add(f)
                    index.setdefault(d, []).extend((storage.join(pages_dir, f), int(rg)) for rg in rgs)
                else:
                    unlocated += 1
            for n in storage.listdir(pages_dir, ".parquet") if unlocated else ():
                if n in named:
                    continue
                f = storage.join(pages_dir, n)
                pf = storage.parquet_file(f)
                for rg in range(pf.metadata.num_row_groups):
                    for d in pc_unique(pf.read_row_group(rg, columns=["doc_id"]).column("doc_id")):
                        if (f, rg) not in index.get(d, ()):
                            index.setdefault(d, []).append((f, rg))
            self._index = index
        return self._index

    def read_pages(self, doc_ids: list[str] | set[str], columns: list[str] | None = None) -> pa.Table:
        """All pages of these documents, reading only the row groups that hold them."""
        wanted = set(doc_ids)
        index = self.page_index()
        by_file: dict[str, set[int]] = {}
        for d in wanted:
            for f, rg in index.get(d, []):
                by_file.setdefault(f, set()).add(rg)
        cols = list(columns) if columns else list(schema.PAGES.names)
        read = cols if "doc_id" in cols else ["doc_id", *cols]
        parts = [_read_row_groups(f, sorted(rgs), read) for f, rgs in sorted(by_file.items())]
        if not parts:
            return schema.PAGES.empty_table().select(cols)
        t = pa.concat_tables(parts)
        t = t.filter(pa.compute.is_in(t.column("doc_id"), value_set=pa.array(sorted(wanted), pa.string())))
        return t.select(cols)

    def locate(self, doc_ids) -> dict[str, list[tuple[str, int]]]:
        """doc_id -> [(pages file path or URL, row group)] holding its pages: what a driver sends a worker so that
        the worker reads its own document (`read_document`) without building the store's index itself."""
        index = self.page_index()
        return {d: list(index.get(d, [])) for d in doc_ids}

    def document(self, doc_id: str, with_images: bool = True) -> Document:
        docs = self._dataset("docs", schema.DOCS).to_table(
            filter=(ds.field("doc_id") == doc_id) & (ds.field("status") == "ok"), use_threads=self.threads)
        if docs.num_rows == 0:
            raise KeyError(f"document {doc_id} not in store {self.url}")
        row = docs.slice(0, 1).to_pylist()[0]
        cols = None if with_images else [c for c in schema.PAGES.names if c != "image"]
        pages = self.read_pages([doc_id], cols).to_pylist()
        pages.sort(key=lambda p: p["page"])
        return _doc(row, pages)

    def iter_documents(self, with_images: bool = True, doc_ids: set[str] | None = None,
                       batch_rows: int = 256) -> Iterator[Document]:
        """Stream ok documents with their pages, in store order, one document in memory at a time."""
        docs = {r["doc_id"]: r for r in self.docs_table().to_pylist() if doc_ids is None or r["doc_id"] in doc_ids}
        cols = None if with_images else [c for c in schema.PAGES.names if c != "image"]
        scanner = self.pages_dataset().scanner(columns=cols, batch_size=batch_rows, use_threads=self.threads,
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


def read_document(row: dict, location: list[tuple[str, int]], with_images: bool = True) -> Document:
    """One document from its docs row and its pages' location (`PageStore.locate`), reading only those row groups:
    the worker side of a build, which never opens the store's index or the driver's copy of the pages."""
    cols = list(schema.PAGES.names) if with_images else [c for c in schema.PAGES.names if c != "image"]
    by_file: dict[str, list[int]] = {}
    for f, rg in location:
        by_file.setdefault(f, []).append(rg)
    pages: list[dict] = []
    for f, rgs in sorted(by_file.items()):
        t = _read_row_groups(f, sorted(set(rgs)), cols)
        t = t.filter(pa.compute.equal(t.column("doc_id"), row["doc_id"]))
        pages.extend(t.to_pylist())
    pages.sort(key=lambda p: p["page"])
    return _doc(row, pages)


def _read_row_groups(path: str, rgs: list[int], cols: list[str]) -> pa.Table:
    """Row groups of one part file; a PAGES column the file predates (text_source) comes back as nulls."""
    pf = storage.parquet_file(path)
    have = set(pf.schema_arrow.names)
    t = pf.read_row_groups(rgs, columns=[c for c in cols if c in have])
    for c in cols:
        if c not in have:
            t = t.append_column(schema.PAGES.field(c), pa.nulls(t.num_rows, schema.PAGES.field(c).type))
    return t.select(cols)


def pc_unique(col: pa.ChunkedArray) -> list[str]:
    return pa.compute.unique(col).to_pylist()


def _doc(row: dict, pages: list[dict]) -> Document:
    return Document(doc_id=row["doc_id"], source=row["source"], n_pages=int(row["n_pages"]),
                    title=row.get("title") or "", sections=list(row.get("sections") or []), pages=pages)
