"""Write a page store so that a run killed at any moment (kill -9 included) resumes without loss or duplicates.

Layout (read by `corpus.store.PageStore`): STORE/pages/part-R-S.parquet, STORE/docs/part-R-S.parquet, manifest.json.
- Rows are buffered and flushed as a pair of part files with the same name: the pages part first, then the docs
  part that commits it. Each file is written to a .tmp name and renamed, so a part is either whole or absent.
- A document's pages never straddle two parts and are written contiguously, in page order.
- On open, leftovers of a killed run are removed: *.tmp files and pages parts with no docs part (their documents
  were not committed and will be redone). The docs parts then say exactly which inputs are done.
  The rule holds for any writer of the store (e.g. eval's image-document import): a pages/NAME.parquet is
  committed by docs/NAME.parquet, written after it.
- R is a new number per run, so a resumed run never overwrites an earlier run's parts.
- A document longer than `flush_pages` is streamed by its worker into STORE/staging/<doc_id>.parquet (a pages part
  in all but name), which the parent commits by renaming it into pages/ before the docs row: worker and parent
  memory stay bounded by `flush_pages` pages whatever the document's length. Leftover staged files are dropped
  on open, like orphan parts.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..durable import durable_replace, fsync_path

PART = re.compile(r"^part-(\d{5})-(\d{6})\.parquet$")
PAGE_ROW_GROUP = 64          # pages per row group: readers stream the store a few pages at a time


PAGES_COMPRESSION = {c: ("none" if c == "image" else "zstd") for c in schema.PAGES.names}  # JPEG is compressed


class StagedPages:
    """A worker-side pages file for one long document, written a batch of pages at a time."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._writer = pq.ParquetWriter(self.path, schema.PAGES, compression=PAGES_COMPRESSION)

    def write(self, pages: list[dict]) -> None:
        if pages:
            self._writer.write_table(pa.Table.from_pylist(pages, schema=schema.PAGES),
                                     row_group_size=PAGE_ROW_GROUP)

    def close(self) -> None:
        self._writer.close()
        with open(self.path, "rb+") as f:
            os.fsync(f.fileno())

    def discard(self) -> None:
        try:
            self._writer.close()
        finally:
            self.path.unlink(missing_ok=True)


def _write_atomic(table: pa.Table, path: Path, **kwargs) -> None:
    """Write, fsync, rename, fsync the folder: once this returns, the part survives a crash or power loss."""
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, **kwargs)
    durable_replace(tmp, path)


def _write_json_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    durable_replace(tmp, path)


class StoreWriter:
    """Append documents (a docs row and its page rows) to a store; `flush_pages` bounds the rows held in memory."""

    def __init__(self, root: str | Path, flush_pages: int = 256, flush_docs: int = 1000):
        self.root = Path(root)
        self.docs_dir, self.pages_dir = self.root / "docs", self.root / "pages"
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"out: {self.root} exists and is not a folder")
        self.staging_dir = self.root / "staging"
        for d in (self.docs_dir, self.pages_dir, self.staging_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.flush_pages, self.flush_docs = flush_pages, flush_docs
        self.removed_orphans = self._recover()
        runs = [int(m.group(1)) for p in self.docs_dir.iterdir() if (m := PART.match(p.name))]
        self.run = max(runs, default=-1) + 1
        self.seq = 0
        self._docs: list[dict] = []
        self._pages: list[dict] = []

    def _recover(self) -> int:
        """Drop what a killed run left half-done; return how many orphan pages parts were removed."""
        for d in (self.docs_dir, self.pages_dir):
            for tmp in d.glob("*.tmp"):
                tmp.unlink()
        for staged in self.staging_dir.iterdir():
            staged.unlink()
        committed = {p.name for p in self.docs_dir.glob("*.parquet")}
        orphans = [p for p in self.pages_dir.glob("*.parquet") if p.name not in committed]
        for p in orphans:
            p.unlink()
        return len(orphans)

    def committed_docs(self) -> pa.Table:
        """doc_id, source, status of every committed docs row."""
        import pyarrow.dataset as ds  # here, not at the top: workers import this module and never need it

        files = sorted(str(p) for p in self.docs_dir.glob("*.parquet"))
        return ds.dataset(files, schema=schema.DOCS, format="parquet").to_table(
            columns=["doc_id", "source", "status", "n_pages"])

    def drop_rows(self, sources: set[str], statuses: tuple[str, ...]) -> int:
        """Remove the committed docs rows of these sources that have one of these (failure) statuses, so that their
        inputs are ingested again (`ingest --retry-failed`). Failure rows have no pages, so every pages part keeps
        its docs part; each rewritten part is replaced atomically and durably. Returns the rows removed."""
        import pyarrow.compute as pc

        removed = 0
        for part in sorted(self.docs_dir.glob("*.parquet")):
            table = pq.read_table(part, schema=schema.DOCS)
            drop = pc.and_(pc.is_in(table["source"], pa.array(sorted(sources), pa.string())),
                           pc.is_in(table["status"], pa.array(list(statuses), pa.string())))
            n = pc.sum(drop).as_py() or 0
            if n:
                _write_atomic(table.filter(pc.invert(drop)), part, compression="zstd")
                removed += n
        return removed

    def staged_path(self, doc_id: str) -> Path:
        """Where a worker streams the pages of a long document (see the module doc)."""
        return self.staging_dir / f"{doc_id}.parquet"

    def add(self, doc: dict, pages: list[dict] = (), staged: str | Path | None = None) -> None:
        """Queue one document (its pages, if any, in order); flushed as a whole with the rows queued before.
        `staged`: the document's pages are in that file instead (committed as a part of its own)."""
        if pages and [p["page"] for p in pages] != list(range(len(pages))):
            raise ValueError(f"{doc.get('source')}: pages must be 0..n-1 in order")
        if staged is not None:
            self.flush()
            name = f"part-{self.run:05d}-{self.seq:06d}.parquet"
            os.replace(staged, self.pages_dir / name)   # fsynced by the worker (StagedPages.close)
            fsync_path(self.pages_dir)
            _write_atomic(pa.Table.from_pylist([doc], schema=schema.DOCS), self.docs_dir / name,
                          compression="zstd")
            self.seq += 1
            return
        self._docs.append(doc)
        self._pages.extend(pages)
        if len(self._pages) >= self.flush_pages or len(self._docs) >= self.flush_docs:
            self.flush()

    def flush(self) -> None:
        if not self._docs:
            return
        name = f"part-{self.run:05d}-{self.seq:06d}.parquet"
        if self._pages:
            table = pa.Table.from_pylist(self._pages, schema=schema.PAGES)
            _write_atomic(table, self.pages_dir / name, row_group_size=PAGE_ROW_GROUP, compression=PAGES_COMPRESSION)
        _write_atomic(pa.Table.from_pylist(self._docs, schema=schema.DOCS), self.docs_dir / name,
                      compression="zstd")
        self.seq += 1
        self._docs, self._pages = [], []

    def close(self) -> None:
        self.flush()

    # -- manifest ---------------------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def read_manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}

    def write_manifest(self, settings: dict, versions: dict, complete: bool) -> dict:
        """Counts are recomputed from the committed docs, so they are right after any number of resumes."""
        docs = self.committed_docs()
        counts: dict[str, int] = {}
        for status in docs.column("status").to_pylist():
            counts[status] = counts.get(status, 0) + 1
        ok_pages = sum(n for n, s in zip(docs.column("n_pages").to_pylist(), docs.column("status").to_pylist())
                       if s == "ok")
        manifest = {"format": "mmprolong-page-store/1", "settings": settings, "versions": versions,
                    "counts": dict(sorted(counts.items())), "documents": docs.num_rows,
                    "ok_documents": counts.get("ok", 0), "pages": ok_pages, "complete": complete,
                    "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_json_atomic(manifest, self.manifest_path)
        return manifest
