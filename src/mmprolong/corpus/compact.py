"""Compact a page store's pages into large part files: per-document pages files (`ingest --worker-writes`, one
object per document: 1.5M objects at the paper's scale) and small batched parts become STORE/pages/compact-K-S.parquet
parts of about `target_bytes` each, so that the store is thousands of objects, each read in large sequential
requests. Readers do not care: every docs row says where its pages are (`pages_file`, `page_row_groups`), before
and after.

Why it is safe at every moment (a kill -9 included), on local disk and on object storage (corpus/writer.py's commit
rule: a pages file is committed iff a docs row names it):
1. the documents of the docs parts, in store order, are copied into the current compact part (writer.PagesFile:
   exact PAGE_ROW_GROUP-row row groups, committed whole at close), their new locations noted in memory;
2. once the compact part holding the last moved document of a docs part is committed, that docs part is rewritten
   whole with the new locations (an atomic replace, or one whole-object write): its rows now name the compact part;
3. then the old pages files its rows named are removed (no other row names them: a batched pages part is named by
   the rows of its own docs part only, a document's own file by its row only).
Killed after 1: the compact part is named by no row, an orphan that the next `compact` or `ingest` removes. Killed
between 2 and 3: the old files are named by no row and are removed likewise. Every docs row names a complete pages
file at every moment, so readers see a valid store throughout. A rerun resumes: documents already in compact parts
stay where they are. The store must not be written (ingest) while it is compacted.
Rows written before the `page_sizes` summary get it on the way (their pages pass through anyway).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import pyarrow as pa

from .. import schema, storage
from .store import PageStore
from .writer import PagesFile, StoreWriter, add_size_runs, row_groups

log = logging.getLogger(__name__)

COMPACT = re.compile(r"^compact-(\d{5})-(\d{6})\.parquet$")
DEFAULT_TARGET_BYTES = 512 * 2**20
DOCS_ROW_GROUP = 1000      # docs rows per row group of a rewritten docs part: what one document() call reads


@dataclass
class CompactSummary:
    store: str
    documents_moved: int = 0
    pages_moved: int = 0
    bytes_moved: int = 0
    parts_written: list[str] = field(default_factory=list)
    files_removed: int = 0
    docs_parts_rewritten: int = 0
    orphans_removed: int = 0


@dataclass
class _Pending:
    """A docs part whose moved rows wait for the compact part holding the last of them to be committed."""

    url: str
    moved: dict[int, tuple[str, list[int], list[dict] | None]] = field(default_factory=dict)  # row -> where, sizes
    old_files: set[str] = field(default_factory=set)
    last_part: int = -1            # the compact part (seq) holding its last moved document
    complete: bool = False         # all its documents placed


def compact(store: str, target_bytes: int = DEFAULT_TARGET_BYTES, progress: bool = False) -> CompactSummary:
    """Rewrite the pages of every document not yet in a compact part into compact parts of about `target_bytes`
    (see the module doc); returns what was done. Resumable: run it again after a kill."""
    if target_bytes < 1:
        raise ValueError(f"target_bytes must be positive, got {target_bytes}")
    url = storage.normalize(store)
    ps = PageStore(url)
    pages_dir = storage.join(url, "pages")
    out = CompactSummary(url)
    _require_located(ps)
    out.orphans_removed = StoreWriter(url)._recover()      # half-written parts, unnamed files of a killed run
    out.orphans_removed += _remove_unnamed(ps, pages_dir)
    runs = [int(m.group(1)) for n in storage.listdir(pages_dir, ".parquet") if (m := COMPACT.match(n))]
    run = max(runs, default=-1) + 1
    seq = 0
    part: PagesFile | None = None
    part_bytes = 0
    pending: list[_Pending] = []

    def finish_ready() -> None:
        while pending and pending[0].complete and pending[0].last_part < seq:
            _finish(pending.pop(0), pages_dir, out)

    def commit_part() -> None:
        nonlocal part, part_bytes, seq
        if part is not None:
            part.close()
            out.parts_written.append(storage.name(part.url))
            part, part_bytes, seq = None, 0, seq + 1
        finish_ready()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    files = ps.docs_files()
    with Progress(TextColumn("[bold]compact"), BarColumn(), MofNCompleteColumn(), TextColumn("docs parts"),
                  TimeElapsedColumn(), disable=not progress) as bar:
        task = bar.add_task("compact", total=len(files))
        for docs_url in files:
            rows = _docs_table(docs_url).select(["doc_id", "status", "pages_file", "page_sizes"]).to_pylist()
            todo = {i for i, r in enumerate(rows)
                    if r["status"] == "ok" and r["pages_file"] and not COMPACT.match(r["pages_file"])}
            if todo:
                p = _Pending(docs_url)
                pending.append(p)
                docs = ps.iter_documents(with_images=True, docs_files=[docs_url])
                for i in (i for i, r in enumerate(rows) if r["status"] == "ok"):   # as iter_documents yields them
                    doc = next(docs)
                    if i not in todo:
                        continue
                    if doc.doc_id != rows[i]["doc_id"]:
                        raise RuntimeError(f"{docs_url}: pages of {doc.doc_id} where {rows[i]['doc_id']} was expected")
                    if part is None:
                        part = PagesFile(storage.join(pages_dir, f"compact-{run:05d}-{seq:06d}.parquet"),
                                         track_sizes=False)
                    start = part.rows_written
                    part.write(doc.pages)
                    p.moved[i] = (storage.name(part.url), row_groups(start, len(doc.pages)),
                                  add_size_runs([], doc.pages) if rows[i]["page_sizes"] is None else None)
                    p.old_files.add(rows[i]["pages_file"])
                    p.last_part = seq
                    size = sum(len(pg["image"] or b"") + len(pg["text"] or "") + 64 for pg in doc.pages)
                    part_bytes += size
                    out.documents_moved += 1
                    out.pages_moved += len(doc.pages)
                    out.bytes_moved += size
                    if part_bytes >= target_bytes:
                        commit_part()
                p.complete = True
                finish_ready()
            bar.advance(task)
        commit_part()
    log.info("compacted %s: %d documents, %d pages into %d parts; %d old files removed", url, out.documents_moved,
             out.pages_moved, len(out.parts_written), out.files_removed)
    return out


def _finish(p: _Pending, pages_dir: str, out: CompactSummary) -> None:
    """Rewrite a docs part with its rows' new locations (one atomic commit), then remove the files they left."""
    t = _docs_table(p.url)
    files = t.column("pages_file").to_pylist()
    groups = t.column("page_row_groups").to_pylist()
    sizes = t.column("page_sizes").to_pylist()
    for i, (name, rgs, runs) in p.moved.items():
        files[i], groups[i] = name, rgs
        if runs is not None:
            sizes[i] = runs
    for col, values in (("pages_file", files), ("page_row_groups", groups), ("page_sizes", sizes)):
        f = schema.DOCS.field(col)
        t = t.set_column(t.schema.get_field_index(col), f, pa.array(values, f.type))
    storage.write_parquet(t, p.url, compression="zstd", row_group_size=DOCS_ROW_GROUP)
    out.docs_parts_rewritten += 1
    for name in sorted(p.old_files):
        storage.remove(storage.join(pages_dir, name))
        out.files_removed += 1


def _docs_table(url: str) -> pa.Table:
    """A docs part as schema.DOCS (columns it predates as nulls)."""
    t = storage.parquet_file(url).read()
    for f in schema.DOCS:
        if f.name not in t.column_names:
            t = t.append_column(f, pa.nulls(t.num_rows, f.type))
    return t.select(schema.DOCS.names).cast(schema.DOCS)


def _require_located(ps: PageStore) -> None:
    for batch in ps.iter_docs_rows(["source", "n_pages", "pages_file", "page_row_groups"]):   # ok rows
        for r in batch.to_pylist():
            if r["n_pages"] and (not r["pages_file"] or r["page_row_groups"] is None):
                raise ValueError(f"{ps.url}: the docs row of {r['source']} does not say where its pages are (a "
                                 "store written before the location columns): ingest it again to compact it")


def _remove_unnamed(ps: PageStore, pages_dir: str) -> int:
    """Remove pages files no docs row names (what a killed compaction left between rewriting a docs part and
    removing the files its rows left). Only called when every row with pages says where they are."""
    named: set[str] = set()
    for batch in ps.iter_docs_rows(["pages_file"], ok_only=False):
        named.update(n for n in batch.column(0).unique().to_pylist() if n)
    gone = [n for n in storage.listdir(pages_dir, ".parquet") if n not in named]
    for n in gone:
        storage.remove(storage.join(pages_dir, n))
    return len(gone)
