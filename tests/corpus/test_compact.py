"""Compaction: per-document pages files and small batched parts become large compact parts; every document and
page byte is the same before and after; a killed compaction leaves a valid store and a rerun finishes the job."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from mmprolong import storage
from mmprolong.corpus.compact import compact
from mmprolong.corpus.ingest import doc_row
from mmprolong.corpus.store import PageStore
from mmprolong.corpus.writer import PAGE_ROW_GROUP, PagesFile, StoreWriter, doc_pages_name

N_DOCS = 12


def _pages(doc_id: str, n: int) -> list[dict]:
    return [{"doc_id": doc_id, "page": p, "width": 612.0, "height": 792.0, "image": os.urandom(50 + 7 * p),
             "image_width": 100 + (p % 2), "image_height": 130, "text": f"{doc_id} page {p}",
             "text_source": "layer"} for p in range(n)]


def write_store(root, worker_layout: bool) -> str:
    """N_DOCS documents (1 to 150 pages: some span several row groups), through StoreWriter: each in its own
    pages file as `ingest --worker-writes` writes them, or in the driver's batched parts."""
    w = StoreWriter(root, flush_docs=5, flush_pages=200)
    for i in range(N_DOCS):
        d, n = f"{i:02d}" + "cd" * 31, [1, 150, 3, 64, 65, 2][i % 6]
        row = doc_row(f"d{i}.pdf", "ok", doc_id=d, n_pages=n)
        if worker_layout:
            f = PagesFile(w.pages_url(doc_pages_name(d)))
            f.write(_pages(d, n))
            w.add({**row, "pages_file": doc_pages_name(d), "page_row_groups": f.close(),
                   "page_sizes": f.page_sizes})
        else:
            w.add(row, _pages(d, n))
        if i == 4:
            w.add(doc_row(f"bad{i}.pdf", "corrupt", error="broken"))
    w.close()
    return str(root)


def snapshot(root) -> list:
    ps = PageStore(root)
    docs = [(d.doc_id, d.source, d.n_pages, d.pages) for d in ps.iter_documents()]
    assert [ps.document(d[0]).pages for d in docs] == [d[3] for d in docs]
    return docs


def _pages_files(root) -> list[str]:
    return storage.listdir(storage.join(root, "pages"), ".parquet")


@pytest.mark.parametrize("worker_layout", [True, False])
def test_compaction_keeps_every_document_and_page_byte(tmp_path, worker_layout):
    root = write_store(tmp_path / "s", worker_layout)
    before = snapshot(root)
    n_before = len(_pages_files(root))
    target = 60_000 if worker_layout else 10**6          # the batched layout starts with 3 pages parts
    s = compact(root, target_bytes=target)
    assert snapshot(root) == before
    files = _pages_files(root)
    assert all(f.startswith("compact-") for f in files) and len(files) == len(s.parts_written) < n_before
    assert s.documents_moved == N_DOCS and s.pages_moved == sum(len(d[3]) for d in before)
    again = compact(root, target_bytes=target)      # nothing left to do
    assert again.documents_moved == 0 and _pages_files(root) == files and snapshot(root) == before


def test_compacted_parts_keep_exact_row_groups(tmp_path):
    import pyarrow.parquet as pq

    root = write_store(tmp_path / "s", True)
    compact(root, target_bytes=10**9)
    (only,) = _pages_files(root)
    md = pq.ParquetFile(os.path.join(root, "pages", only)).metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    assert all(n == PAGE_ROW_GROUP for n in sizes[:-1]) and sum(sizes) == sum(len(d[3]) for d in snapshot(root))


def _killed_compaction(root, where: str, after: int) -> None:
    """Compaction in a child process that dies (os._exit: no cleanup runs) at the `after`-th call of `where`."""
    from mmprolong import storage as st
    from mmprolong.corpus import compact as cm

    calls = {"n": 0}
    name = {"docs_rewrite": "write_parquet", "remove_old": "remove"}[where]
    real = getattr(st, name)

    def dying(*a, **k):
        if where == "docs_rewrite" or "compact-" not in str(a[0]):
            calls["n"] += 1
            if calls["n"] > after:
                os._exit(9)
        return real(*a, **k)

    setattr(st, name, dying)
    cm.compact(root, target_bytes=3_000)


@pytest.mark.parametrize("where,after", [("docs_rewrite", 0), ("docs_rewrite", 1), ("remove_old", 1)])
def test_a_killed_compaction_leaves_a_valid_store_and_resumes(tmp_path, where, after):
    root = write_store(tmp_path / "s", True)
    before = snapshot(root)
    p = mp.get_context("fork").Process(target=_killed_compaction, args=(root, where, after))
    p.start()
    p.join(60)
    assert p.exitcode == 9
    assert snapshot(root) == before                       # readers see every document, whole, mid-compaction
    s = compact(root, target_bytes=3_000)                 # resume
    assert snapshot(root) == before
    files = _pages_files(root)
    assert all(f.startswith("compact-") for f in files)   # no orphan and no per-document file left
    named = {r for b in PageStore(root).iter_docs_rows(["pages_file"]) for r in b.column(0).to_pylist()}
    assert named == set(files)
    assert s.documents_moved == N_DOCS if after == 0 else 0 < s.documents_moved < N_DOCS   # the done part stays


def test_compaction_on_the_memory_filesystem():
    import uuid

    root = f"memory://compact-{uuid.uuid4().hex}/store"
    write_store(root, True)
    before = snapshot(root)
    compact(root, target_bytes=20_000)
    assert snapshot(root) == before and all(f.startswith("compact-") for f in _pages_files(root))


def test_the_cli_compacts(tmp_path):
    from mmprolong.cli.main import main

    root = write_store(tmp_path / "s", True)
    before = snapshot(root)
    assert main(["compact", root, "--target-mb", "0.01", "--quiet"]) == 0
    assert snapshot(root) == before and all(f.startswith("compact-") for f in _pages_files(root))
