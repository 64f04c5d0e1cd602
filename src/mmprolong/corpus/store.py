"""Read a page store: STORE/docs and STORE/pages (Parquet datasets) plus STORE/manifest.json. STORE is a local
folder or an fsspec URL (s3://bucket/store, memory://...; `mmprolong.storage`); `root` is a Path for a local store and
the URL string otherwise, `url` always a string.

Stages read documents through `PageStore.iter_documents()`, which walks the docs rows in order, a batch at a time
(`iter_docs_rows`, one docs part open at a time), and reads each document's pages from the row groups its row names
(the last pages row group read is kept, since consecutive documents of a batched part share row groups): memory
holds one docs batch and the pages row groups of one document, whatever the consumer's speed (no readahead). Store order is docs order (docs parts by name,
rows in order); compaction (corpus/compact.py) keeps it.
Random access: `document(doc_id)` finds its docs row through a compact index (a 64-bit hash of the doc_id -> docs
file and row group, in sorted numpy arrays, 16 bytes a document) and reads that one docs row group and the pages row
groups the row names. `locate` / `read_pages` go through a row-group index (doc_id -> the pages files and row groups
that hold its pages), built once per store object: from the docs rows' `pages_file` / `page_row_groups`
(corpus/writer.py) and, for rows written before those columns, from the doc_id column of the pages files no docs
row names: doc_ids are hashes, so Parquet's min/max statistics cannot prune row groups, and a filtered scan would
read every row group of a large store.
`iter_summaries` gives the docs columns that planning and token counting need (`page_sizes`, corpus/writer.py),
filling the summary from the pages only for rows written before it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.dataset as ds
import numpy as np

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
                    index.setdefault(d, []).extend(row_location(pages_dir, f, rgs))
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
        by_file: dict[str, set[int]] = {}
        for where in self.locate(wanted).values():
            for f, rg in where:
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
        the worker reads its own document (`read_document`) without building the store's index itself.
        The docs rows of these documents are found through the docs index (`_doc_index`: 16 bytes a document, one
        docs row group read per group of them) and give their pages' location; only rows without one (stores
        written before the location columns) need the store-wide `page_index`, a Python dict of every document."""
        ids = list(dict.fromkeys(doc_ids))
        if getattr(self, "_index", None) is None:
            pages_dir = storage.join(self.url, "pages")
            rows = self._ok_rows(ids, ["doc_id", "status", "pages_file", "page_row_groups"])
            out: dict[str, list[tuple[str, int]]] = {}
            rest = []
            for d in ids:
                r = rows.get(d)
                if r is None:
                    out[d] = []
                elif (where := row_location(pages_dir, r["pages_file"], r["page_row_groups"])) is not None:
                    out[d] = where
                else:
                    rest.append(d)
            if not rest:
                return out
            ids = rest
        else:
            out = {}
        index = self.page_index()
        out.update({d: list(index.get(d, [])) for d in ids})
        return out

    def _ok_rows(self, doc_ids: list[str], columns: list[str] | None = None) -> dict[str, dict]:
        """doc_id -> its ok docs row (these columns, which must include doc_id and status; default: all the file
        has), through the docs index: each docs row group holding some of them is read once (the first ok row of a
        doc_id wins)."""
        keys, files, groups = self._doc_index()
        want: dict[tuple[int, int], set[str]] = {}
        for d in doc_ids:
            key = np.uint64(doc_key(d))
            for j in range(np.searchsorted(keys, key, "left"), np.searchsorted(keys, key, "right")):
                want.setdefault((int(files[j]), int(groups[j])), set()).add(d)
        out = {}
        for (f, rg), ds in sorted(want.items()):
            pf = storage.parquet_file(self._docs_index_files[f])
            have = set(pf.schema_arrow.names)
            t = pf.read_row_group(rg, columns=[c for c in columns if c in have] if columns else None)
            t = t.filter(pa.compute.and_(pa.compute.is_in(t.column("doc_id"), value_set=pa.array(sorted(ds),
                                                                                                   pa.string())),
                                         pa.compute.equal(t.column("status"), "ok")))
            for r in t.to_pylist():
                if r["doc_id"] not in out:
                    out[r["doc_id"]] = {c: r.get(c) for c in columns} if columns else r
        return out

    def docs_files(self) -> list[str]:
        """The committed docs parts, in store order."""
        return self._files("docs")

    def _doc_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sorted 64-bit doc_id hashes, docs file number, row group) of every ok docs row (built on first use by
        reading the doc_id / status columns a row group at a time)."""
        if getattr(self, "_docs_index", None) is None:
            keys, files, groups = [], [], []
            for i, f in enumerate(self.docs_files()):
                pf = storage.parquet_file(f)
                for rg in range(pf.metadata.num_row_groups):
                    t = pf.read_row_group(rg, columns=["doc_id", "status"])
                    ids = t.column("doc_id").filter(pa.compute.equal(t.column("status"), "ok")).to_pylist()
                    keys.append(np.fromiter((doc_key(d) for d in ids), np.uint64, len(ids)))
                    files.append(np.full(len(ids), i, np.int32))
                    groups.append(np.full(len(ids), rg, np.int32))
            k = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
            order = np.argsort(k, kind="stable")
            self._docs_index = (k[order], (np.concatenate(files) if files else np.zeros(0, np.int32))[order],
                                (np.concatenate(groups) if groups else np.zeros(0, np.int32))[order])
            self._docs_index_files = self.docs_files()
        return self._docs_index

    def doc_row(self, doc_id: str) -> dict:
        """The ok docs row of this document: one docs row group read (through `_doc_index`)."""
        row = self._ok_rows([doc_id]).get(doc_id)
        if row is None:
            raise KeyError(f"document {doc_id} not in store {self.url}")
        return row

    def document(self, doc_id: str, with_images: bool = True) -> Document:
        """One document: its docs row through the docs index, its pages from the row groups the row names (a row
        without them, from a store written before the location columns, goes through `page_index`)."""
        row = self.doc_row(doc_id)
        location = self._location(row)
        if location is not None:
            return read_document(row, location, with_images)
        cols = None if with_images else [c for c in schema.PAGES.names if c != "image"]
        pages = self.read_pages([doc_id], cols).to_pylist()
        pages.sort(key=lambda p: p["page"])
        return _doc(row, pages)

    def _location(self, row: dict) -> list[tuple[str, int]] | None:
        if row.get("pages_file") and row.get("page_row_groups") is not None:
            f = storage.join(self.url, "pages", row["pages_file"])
            return [(f, int(rg)) for rg in row["page_row_groups"]]
        return None

    def iter_docs_rows(self, columns: list[str] | None = None, ok_only: bool = True, batch_rows: int = 4096,
                       files: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The docs rows in store order (of `files`, default all docs parts), a batch of at most `batch_rows` rows
        at a time, one part open at a time: memory does not grow with the number of parts (a pyarrow dataset
        over all of them keeps every part's metadata: ~67 KB a part, 0.6 GB for the 8,932 parts of a
        100K-document store, measured). Columns a part predates come back as nulls."""
        cols = list(columns) if columns else list(schema.DOCS.names)
        read = cols if not ok_only or "status" in cols else [*cols, "status"]
        for f in self.docs_files() if files is None else files:
            pf = storage.parquet_file(f)
            have = set(pf.schema_arrow.names)
            for batch in pf.iter_batches(batch_size=batch_rows, columns=[c for c in read if c in have],
                                         use_threads=False):
                for c in read:
                    if c not in have:
                        batch = batch.append_column(schema.DOCS.field(c),
                                                    pa.nulls(batch.num_rows, schema.DOCS.field(c).type))
                if ok_only:
                    batch = batch.filter(pa.compute.equal(batch.column("status"), "ok"))
                if batch.num_rows:
                    yield batch.select(cols)

    def iter_summaries(self, columns: tuple[str, ...] = ("doc_id", "n_pages"), batch_rows: int = 65536,
                       files: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Ok docs rows in store order with `columns` and `page_sizes` (schema.SIZE_RUN runs), a bounded batch at
        a time: from the docs parts alone; a row written before the summary column gets it from its pages."""
        want = [c for c in columns if c != "page_sizes"] + ["page_sizes"]
        for batch in self.iter_docs_rows(want, batch_rows=batch_rows, files=files):
            sizes = batch.column(batch.schema.get_field_index("page_sizes"))
            if sizes.null_count:
                batch = self._fill_sizes(batch)
            yield batch

    def _fill_sizes(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        from .writer import add_size_runs

        ids = batch.column(batch.schema.get_field_index("doc_id")).to_pylist()
        runs = batch.column(batch.schema.get_field_index("page_sizes")).to_pylist()
        missing = [d for d, r in zip(ids, runs) if r is None]
        pages = self.read_pages(missing, ["doc_id", "page", "image_width", "image_height"])
        pages = pages.sort_by([("doc_id", "ascending"), ("page", "ascending")]).to_pylist()
        by_doc: dict[str, list[dict]] = {}
        for p in pages:
            by_doc.setdefault(p["doc_id"], []).append(p)
        runs = [r if r is not None else add_size_runs([], by_doc.get(d, [])) for d, r in zip(ids, runs)]
        i = batch.schema.get_field_index("page_sizes")
        f = schema.DOCS.field("page_sizes")
        return batch.set_column(i, f, pa.array(runs, f.type))

    def iter_documents(self, with_images: bool = True, doc_ids: set[str] | None = None, batch_rows: int = 256,
                       columns: list[str] | None = None, docs_files: list[str] | None = None) -> Iterator[Document]:
        """Stream ok documents with their pages (the PAGES `columns`, default all but `image` unless
        `with_images`), in store order (of `docs_files`, default all docs parts). Memory: a docs batch of
        `batch_rows` rows and the pages row groups of the current document (plus the last one read), whatever the
        consumer's speed."""
        cols = list(columns) if columns else (list(schema.PAGES.names) if with_images
                                              else [c for c in schema.PAGES.names if c != "image"])
        cols = [c for c in ("doc_id", "page") if c not in cols] + cols
        cache: dict[tuple[str, int], pa.Table] = {}
        files: dict[str, object] = {}
        for batch in self.iter_docs_rows(batch_rows=batch_rows, files=docs_files):
            for row in batch.to_pylist():
                if doc_ids is not None and row["doc_id"] not in doc_ids:
                    continue
                location = self._location(row)
                if location is None:
                    pages = self.read_pages([row["doc_id"]], cols).to_pylist()
                else:
                    parts = []
                    for key in location:
                        if key not in cache:
                            f, rg = key
                            if f not in files:
                                files.clear()
                                files[f] = storage.parquet_file(f)
                            cache[key] = _read_row_groups(files[f], [rg], cols)
                        t = cache[key]
                        parts.append(t.filter(pa.compute.equal(t.column("doc_id"), row["doc_id"])))
                    last = location[-1] if location else None
                    for k in [k for k in cache if k != last]:   # keep only the last row group: the next document
                        del cache[k]                            # of a batched part starts there
                    pages = pa.concat_tables(parts).to_pylist() if parts else []
                pages.sort(key=lambda p: p["page"])
                yield _doc(row, pages)


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


def row_location(pages_dir: str, pages_file: str | None, row_groups: list[int] | None) -> list[tuple[str, int]] | None:
    """[(pages file, row group)] of a docs row's location columns; None when the row has none (older stores)."""
    if not pages_file or row_groups is None:
        return None
    return [(storage.join(pages_dir, pages_file), int(g)) for g in row_groups]


def doc_key(doc_id: str) -> int:
    """The 64-bit key of a doc_id in the docs index (a hash: doc_ids are not always hex)."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little")


def _read_row_groups(path, rgs: list[int], cols: list[str]) -> pa.Table:
    """Row groups of one part file (a path, or an open ParquetFile); a PAGES column the file predates
    (text_source) comes back as nulls."""
    pf = storage.parquet_file(path) if isinstance(path, str) else path
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
