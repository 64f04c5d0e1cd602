"""Write a page store so that a run killed at any moment (kill -9 included) resumes without loss or duplicates.

Layout (read by `corpus.store.PageStore`); STORE is a local folder or an fsspec URL (s3://bucket/store, memory://...,
through `mmprolong.storage`):
- STORE/docs/part-R-S.parquet: docs rows (one per input), committed in batches by the one driver process
  (`flush_docs` rows or `flush_seconds` of work a part, so a 1.5M-document store is about a thousand docs parts);
- STORE/pages/part-R-S-K.parquet: the pages of short documents of docs part S, when the driver holds them (local
  runs: workers hand back documents of fewer than `flush_pages` pages, batched into pages parts of about
  `flush_pages` pages; K counts them within the docs part, whose rows are the only ones that name them);
- STORE/pages/doc-<doc_id>.parquet: the pages of one document, written by the worker that rendered it, a row group
  (PAGE_ROW_GROUP pages) at a time, so no process holds more than a row group of a document it streams. This is
  every document under `ingest --worker-writes` (the default with `--executor ray` and for a remote STORE: page
  bytes never pass through the driver) and, otherwise, every document longer than `flush_pages`.
- STORE/manifest.json.

Commit rule: a pages file is committed iff
  (a) a committed docs row names it (`pages_file` = its name inside pages/, `page_row_groups` = the row groups of its
      file that hold the document's pages), or
  (b) docs/NAME.parquet exists for pages/NAME.parquet (stores written before the location columns; and any other
      writer of the store, e.g. eval's image-document import, may commit a pages part that way).
Every file is committed whole: locally written to NAME.tmp, fsynced and renamed; on object storage one whole-object
write (visible only once complete). A pages file is always complete before the docs row that names it is written,
so a docs row never names missing pages. On open (`StoreWriter`), leftovers of a killed run are removed: *.tmp files,
pages files that nothing commits (a worker finished them but the driver died before committing their docs rows,
or a killed worker's half) and the old layout's staging/ files. The docs parts then say exactly which inputs are
done, and their documents are redone on resume. R is a new number per run, so a resumed run never overwrites an
earlier run's parts; a worker's pages file is named by its doc_id, and a doc_id is rendered at most once per store.

Every docs row of a document with pages also carries `page_sizes` (its pages' pixel sizes, run-length in page order:
`add_size_runs`), so that planning and token counting read the docs parts only.

The batched writer fills `pages_file` / `page_row_groups` too (a part's row groups are exact PAGE_ROW_GROUP-row
chunks and it knows each document's row offsets), so `PageStore.locate` answers from the docs table alone; rows
without them (older stores) are located by scanning the pages' doc_id columns.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema, storage

PART = re.compile(r"^part-(\d{5})-(\d{6})\.parquet$")
PAGE_ROW_GROUP = 64          # pages per row group: readers stream the store a few pages at a time


PAGES_COMPRESSION = {c: ("none" if c == "image" else "zstd") for c in schema.PAGES.names}  # JPEG is compressed


def doc_pages_name(doc_id: str) -> str:
    """The name inside STORE/pages of a document's own pages file (written by its worker)."""
    return f"doc-{doc_id}.parquet"


def add_size_runs(runs: list[dict], pages) -> list[dict]:
    """Extend `runs` (schema.SIZE_RUN dicts: equal pixel sizes in page order) by these page rows; returns `runs`.
    This is the docs row's `page_sizes`: what planning and token counting read instead of the pages."""
    for p in pages:
        w, h = int(p["image_width"]), int(p["image_height"])
        if runs and runs[-1]["width"] == w and runs[-1]["height"] == h:
            runs[-1]["pages"] += 1
        else:
            runs.append({"width": w, "height": h, "pages": 1})
    return runs


def row_groups(start: int, n: int) -> list[int]:
    """The row groups of a part holding rows [start, start + n) (row groups of exactly PAGE_ROW_GROUP rows)."""
    return list(range(start // PAGE_ROW_GROUP, (start + n - 1) // PAGE_ROW_GROUP + 1)) if n else []


class PagesFile:
    """A pages file for one document, written a row group (PAGE_ROW_GROUP pages) at a time and committed whole by
    `close()` (local: .tmp, fsync, rename; object storage: the object appears when its upload completes);
    `discard()` leaves nothing behind. Memory: at most one row group of pages."""

    def __init__(self, url: str, track_sizes: bool = True):
        self.url = storage.normalize(url)
        self.track_sizes = track_sizes
        self.local = storage.is_local(self.url)
        if self.local:
            self._tmp = storage.local_path(self.url).with_name(storage.name(self.url) + ".tmp")
            self._sink = None                      # pyarrow writes the local file natively
        else:
            fs, path = storage.filesystem(self.url)
            self._sink = fs.open(path, "wb")
        self._writer = pq.ParquetWriter(str(self._tmp) if self.local else self._sink, schema.PAGES,
                                        compression=PAGES_COMPRESSION)
        self._buf: list[dict] = []
        self.n_row_groups = 0
        self.n_pages = 0
        self.page_sizes: list[dict] = []   # the docs row's summary of what was written (add_size_runs)

    @property
    def rows_written(self) -> int:
        """Pages written so far (the row offset of the next page)."""
        return self.n_pages + len(self._buf)

    def write(self, pages: list[dict]) -> None:
        if self.track_sizes:
            add_size_runs(self.page_sizes, pages)
        self._buf.extend(pages)
        while len(self._buf) >= PAGE_ROW_GROUP:
            self._group(self._buf[:PAGE_ROW_GROUP])
            self._buf = self._buf[PAGE_ROW_GROUP:]

    def _group(self, pages: list[dict]) -> None:
        self._writer.write_table(pa.Table.from_pylist(pages, schema=schema.PAGES), row_group_size=PAGE_ROW_GROUP)
        self.n_row_groups += 1
        self.n_pages += len(pages)

    def close(self) -> list[int]:
        """Commit the file; return its row groups (all of them: the file holds one document)."""
        if self._buf:
            self._group(self._buf)
            self._buf = []
        self._writer.close()
        if self._sink is not None and not self._sink.closed:
            self._sink.close()
        if self.local:
            from ..durable import durable_replace

            durable_replace(self._tmp, storage.local_path(self.url))
        return list(range(self.n_row_groups))

    def discard(self) -> None:
        try:
            if not self.local and hasattr(self._sink, "discard"):
                self._sink.discard()     # s3fs: abort the multipart upload; nothing becomes visible
                self._sink.closed = True   # fsspec's buffered file: nothing left to flush on close / __del__
            self._writer.close()
        except Exception:                # a half-closed sink: what matters is that no file is left
            pass
        finally:
            if self._sink is not None and not self._sink.closed:
                try:
                    self._sink.close()
                except Exception:
                    pass
            if self.local:
                self._tmp.unlink(missing_ok=True)
            storage.remove(self.url)


def remove_pages_file(url: str) -> None:
    """Remove what a killed worker may have left of a pages file (its .tmp locally, or the object)."""
    storage.remove(url)
    if storage.is_local(url):
        storage.remove(storage.normalize(url) + ".tmp")


def _write_json_atomic(obj: dict, url: str) -> None:
    storage.write_text(url, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class StoreWriter:
    """Append documents (a docs row and its page rows) to a store; `flush_pages` bounds the page rows held in memory,
    `flush_docs` / `flush_seconds` how many docs rows (and how much work) a killed driver can lose."""

    def __init__(self, root: str | Path, flush_pages: int = 256, flush_docs: int = 1000,
                 flush_seconds: float = 30.0):
        self.url = storage.normalize(root)
        self.root = storage.local_path(self.url) if storage.is_local(self.url) else self.url
        if storage.is_local(self.url) and self.root.exists() and not self.root.is_dir():
            raise ValueError(f"out: {self.root} exists and is not a folder")
        self.docs_dir, self.pages_dir = storage.join(self.url, "docs"), storage.join(self.url, "pages")
        for d in (self.docs_dir, self.pages_dir):
            storage.makedirs(d)
        self.flush_pages, self.flush_docs, self.flush_seconds = flush_pages, flush_docs, flush_seconds
        self.removed_orphans = self._recover()
        runs = [int(m.group(1)) for n in storage.listdir(self.docs_dir) if (m := PART.match(n))]
        self.run = max(runs, default=-1) + 1
        self.seq = 0
        self._docs: list[dict] = []
        self._spans: list[tuple[int, int] | None] = []   # per queued doc not yet in a pages part: (first row, rows)
        self._pages: list[dict] = []
        self._parts = 0                                  # pages parts written for the docs part being filled
        self._since = time.monotonic()

    def pages_url(self, name: str) -> str:
        return storage.join(self.pages_dir, name)

    def _docs_dataset(self):
        files = [storage.join(self.docs_dir, n) for n in storage.listdir(self.docs_dir, ".parquet")]
        return storage.parquet_dataset(files, schema.DOCS, base=self.url)

    def _recover(self) -> int:
        """Drop what a killed run left half-done; return how many uncommitted pages files were removed."""
        for d in (self.docs_dir, self.pages_dir):
            for tmp in storage.listdir(d, ".tmp"):
                storage.remove(storage.join(d, tmp))
        staging = storage.join(self.url, "staging")        # the layout before worker-written pages files
        for n in storage.listdir(staging):
            storage.remove(storage.join(staging, n))
        committed = self.committed_pages_files()
        orphans = [n for n in storage.listdir(self.pages_dir, ".parquet") if n not in committed]
        for n in orphans:
            storage.remove(storage.join(self.pages_dir, n))
        return len(orphans)

    def committed_pages_files(self) -> set[str]:
        """Names in pages/ that committed docs rows name, or whose docs/NAME.parquet exists (see the module doc)."""
        names = set(storage.listdir(self.docs_dir, ".parquet"))
        col = self._docs_dataset().to_table(columns=["pages_file"], use_threads=storage.scan_threads(self.url))
        names.update(n for n in col.column("pages_file").unique().to_pylist() if n)
        return names

    def committed_docs(self) -> pa.Table:
        """doc_id, source, status, n_pages of every committed docs row."""
        return self._docs_dataset().to_table(columns=["doc_id", "source", "status", "n_pages"],
                                             use_threads=storage.scan_threads(self.url))

    def drop_rows(self, sources: set[str], statuses: tuple[str, ...]) -> int:
        """Remove the committed docs rows of these sources that have one of these (failure) statuses, so that their
        inputs are ingested again (`ingest --retry-failed`). Failure rows have no pages, so every pages file keeps
        what commits it; each rewritten part is replaced atomically and durably. Returns the rows removed."""
        import pyarrow.compute as pc

        removed = 0
        for n in storage.listdir(self.docs_dir, ".parquet"):
            url = storage.join(self.docs_dir, n)
            table = storage.parquet_dataset([url], schema.DOCS).to_table(use_threads=storage.scan_threads(url))
            drop = pc.and_(pc.is_in(table["source"], pa.array(sorted(sources), pa.string())),
                           pc.is_in(table["status"], pa.array(list(statuses), pa.string())))
            k = pc.sum(drop).as_py() or 0
            if k:
                storage.write_parquet(table.filter(pc.invert(drop)), url, compression="zstd")
                removed += k
        return removed

    def add(self, doc: dict, pages: list[dict] = ()) -> None:
        """Queue one document; committed with the rows queued before it. Either its pages come here (in order), or
        its worker already wrote them to the pages file its row names (`pages_file`, committed by this row, see the
        module doc)."""
        if pages and [p["page"] for p in pages] != list(range(len(pages))):
            raise ValueError(f"{doc.get('source')}: pages must be 0..n-1 in order")
        if pages and doc.get("pages_file"):
            raise ValueError(f"{doc.get('source')}: pages given and also in {doc['pages_file']}")
        if pages and doc.get("page_sizes") is None:
            doc = {**doc, "page_sizes": add_size_runs([], pages)}
        if not self._docs:
            self._since = time.monotonic()
        self._spans.append((len(self._pages), len(pages)) if pages else None)
        self._docs.append(dict(doc))
        self._pages.extend(pages)
        if len(self._pages) >= self.flush_pages:
            self._write_pages()
        if len(self._docs) >= self.flush_docs or time.monotonic() - self._since >= self.flush_seconds:
            self.flush()

    def _write_pages(self) -> None:
        """Write the held pages as one pages part of the docs part being filled (named, so committed, by its rows
        only once that docs part is written: a kill before leaves an orphan that the next open removes)."""
        if not self._pages:
            return
        name = f"part-{self.run:05d}-{self.seq:06d}-{self._parts:04d}.parquet"
        storage.write_parquet(pa.Table.from_pylist(self._pages, schema=schema.PAGES), self.pages_url(name),
                              row_group_size=PAGE_ROW_GROUP, compression=PAGES_COMPRESSION)
        queued = len(self._docs) - len(self._spans)
        for doc, span in zip(self._docs[queued:], self._spans):
            if span is not None:
                doc["pages_file"], doc["page_row_groups"] = name, row_groups(*span)
        self._parts += 1
        self._pages = []
        self._spans = []

    def flush(self) -> None:
        """Commit the queued rows: their pages parts (if any) first, then the docs part that commits them."""
        if not self._docs:
            return
        self._write_pages()
        name = f"part-{self.run:05d}-{self.seq:06d}.parquet"
        storage.write_parquet(pa.Table.from_pylist(self._docs, schema=schema.DOCS), storage.join(self.docs_dir, name),
                              compression="zstd")
        self.seq += 1
        self._docs, self._spans, self._pages, self._parts = [], [], [], 0

    def close(self) -> None:
        self.flush()

    # -- manifest ---------------------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> str:
        return storage.join(self.url, "manifest.json")

    def read_manifest(self) -> dict:
        return json.loads(storage.read_text(self.manifest_path)) if storage.exists(self.manifest_path) else {}

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
