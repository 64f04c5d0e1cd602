"""PageStore random access: the row-group index reads only the row groups that hold a document's pages."""

from __future__ import annotations

import pyarrow as pa
import pytest
import pyarrow.parquet as pq

from mmprolong import schema
from mmprolong.corpus.store import PageStore


def _store(tmp_path, n_docs=6, pages=10, row_group=4):
    (tmp_path / "docs").mkdir()
    (tmp_path / "pages").mkdir()
    docs, rows = [], []
    for i in range(n_docs):
        d = f"{i:02d}" + "ab" * 31
        docs.append({"doc_id": d, "source": f"d{i}.pdf", "n_pages": pages, "title": "", "sections": [],
                     "sections_from": "none", "status": "ok", "error": "", "file_bytes": 1, "dpi": 72,
                     "seconds": 0.0})
        rows += [{"doc_id": d, "page": p, "width": 1.0, "height": 1.0, "image": f"{d}:{p}".encode(),
                  "image_width": 10, "image_height": 10, "text": f"doc {i} page {p}"} for p in range(pages)]
    half = len(rows) // 2
    for k, chunk in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(chunk, schema=schema.PAGES), tmp_path / "pages" / f"part-{k}.parquet",
                       row_group_size=row_group)
    pq.write_table(pa.Table.from_pylist(docs, schema=schema.DOCS), tmp_path / "docs" / "part-0.parquet")
    return PageStore(tmp_path), [d["doc_id"] for d in docs]


def test_document_and_read_pages_equal_a_full_scan(tmp_path):
    store, ids = _store(tmp_path)
    full = store.pages_dataset().to_table().to_pylist()
    for d in ids:
        doc = store.document(d)
        assert [p["page"] for p in doc.pages] == list(range(10))
        assert doc.pages == sorted((r for r in full if r["doc_id"] == d), key=lambda r: r["page"])
    got = store.read_pages({ids[2], ids[3]}, ["doc_id", "page", "text"]).to_pylist()
    assert sorted((r["doc_id"], r["page"]) for r in got) == sorted(
        (r["doc_id"], r["page"]) for r in full if r["doc_id"] in (ids[2], ids[3]))
    assert store.read_pages(["nope"], ["page"]).num_rows == 0


def test_index_points_only_at_the_row_groups_of_a_document(tmp_path):
    store, ids = _store(tmp_path, n_docs=6, pages=10, row_group=4)
    index = store.page_index()
    assert set(index) == set(ids)
    total = sum(pq.ParquetFile(f).metadata.num_row_groups for f in {f for v in index.values() for f, _ in v})
    for d in ids:  # 10 pages in row groups of 4: a document touches at most 4 of the 16 row groups
        assert 1 <= len(index[d]) <= 4 < total


def test_a_store_whose_rows_say_where_their_pages_are_is_never_listed(tmp_path, monkeypatch):
    """Written by StoreWriter (every docs row names its pages file and row groups): locating and reading documents
    go by the docs rows; listing pages/ (1.5M objects at the paper's scale) is for stores written before them."""
    from mmprolong import storage
    from mmprolong.corpus.ingest import doc_row
    from mmprolong.corpus.writer import StoreWriter

    w = StoreWriter(tmp_path / "s", flush_pages=50)
    ids = []
    for i, n in enumerate((3, 70, 12)):
        d = f"{i:064x}"
        ids.append(d)
        w.add(doc_row(f"d{i}.pdf", "ok", doc_id=d, n_pages=n, title=""),
              [{"doc_id": d, "page": k, "width": 1.0, "height": 1.0, "image": b"j", "image_width": 1,
                "image_height": 1, "text": f"{i}:{k}", "text_source": "layer"} for k in range(n)])
    w.close()
    listed = []
    real = storage.listdir
    monkeypatch.setattr(storage, "listdir", lambda url, suffix="": listed.append(url) or real(url, suffix))
    store = PageStore(tmp_path / "s")
    where = store.locate(ids)
    assert [len(store.read_pages([d], ["page"])) for d in ids] == [3, 70, 12] and all(where.values())
    assert [d.n_pages for d in store.iter_documents(with_images=False)] == [3, 70, 12]     # a full read too
    assert not any(str(u).endswith("pages") for u in listed), listed


class _ReadCounter:
    """Counts the (file, row group) reads of the store's Parquet files (every store read opens them through
    storage.parquet_file and reads row groups or batches)."""

    def __init__(self, monkeypatch):
        import os

        import pyarrow.parquet as pq

        from mmprolong import storage

        self.groups: list[tuple[str, int]] = []
        real_open = storage.parquet_file
        real_one, real_many = pq.ParquetFile.read_row_group, pq.ParquetFile.read_row_groups
        real_iter = pq.ParquetFile.iter_batches
        groups = self.groups

        def opened(url):
            pf = real_open(url)
            pf.test_name = "/".join(str(url).split(os.sep)[-2:])    # "docs/part-..." or "pages/part-..."
            return pf

        def one(pf, i, *a, **k):
            groups.append((pf.test_name, i))
            return real_one(pf, i, *a, **k)

        def many(pf, rgs, *a, **k):
            groups.extend((pf.test_name, i) for i in rgs)
            return real_many(pf, rgs, *a, **k)

        def batches(pf, *a, **k):
            groups.extend((pf.test_name, i) for i in range(pf.metadata.num_row_groups))
            return real_iter(pf, *a, **k)

        monkeypatch.setattr(storage, "parquet_file", opened)
        monkeypatch.setattr(pq.ParquetFile, "read_row_group", one)
        monkeypatch.setattr(pq.ParquetFile, "read_row_groups", many)
        monkeypatch.setattr(pq.ParquetFile, "iter_batches", batches)


def _many_docs_store(root, n_docs: int, flush_docs: int = 100):
    from mmprolong.corpus.ingest import doc_row
    from mmprolong.corpus.writer import StoreWriter

    w = StoreWriter(root, flush_docs=flush_docs, flush_pages=10**9)
    for i in range(n_docs):
        d = f"{i:064x}"
        w.add(doc_row(f"d{i}.pdf", "ok", doc_id=d, n_pages=2, title=""),
              [{"doc_id": d, "page": k, "width": 1.0, "height": 1.0, "image": b"j" * 10, "image_width": 1,
                "image_height": 1, "text": f"{i}:{k}", "text_source": "layer"} for k in range(2)])
    w.close()
    return PageStore(root)


def test_document_reads_one_docs_row_group_and_its_pages_whatever_the_store_size(tmp_path, monkeypatch):
    """document(doc_id) goes through the docs index: one docs row group and the document's own pages row groups,
    the same count in a store of 50 and of 2,000 documents (the index is built once per store object)."""
    counts = {}
    for n in (50, 2000):
        store = _many_docs_store(tmp_path / f"s{n}", n)
        ids = store.doc_ids()
        store.document(ids[0])                     # builds the docs index (one pass over the doc_id column)
        reads = _ReadCounter(monkeypatch)
        for d in (ids[1], ids[n // 2], ids[-1]):
            assert store.document(d, with_images=False).doc_id == d
        counts[n] = len(reads.groups)
        monkeypatch.undo()
    assert counts[50] == counts[2000] == 3 * 2     # per call: 1 docs row group + 1 pages row group
    with pytest.raises(KeyError):
        store.document("nope")


def test_iter_documents_reads_a_row_group_at_a_time(tmp_path, monkeypatch):
    """A slow consumer holds the iterator after each document: by then only the pages row groups up to this
    document's have been read (no readahead of whole columns or files), each once; the docs rows a part at a
    time."""
    import pyarrow.parquet as pq

    root = tmp_path / "s"
    store = _many_docs_store(root, 400, flush_docs=200)   # 2 docs parts; their pages parts: 400 pages, 7 row groups
    total = sum(pq.ParquetFile(f).metadata.num_row_groups for f in (root / "pages").iterdir())
    reads = _ReadCounter(monkeypatch)
    n = 0
    for k, doc in enumerate(store.iter_documents(with_images=True, batch_rows=16)):
        n += 1
        pages = [g for g in reads.groups if g[0].startswith("pages/")]
        if k < 200:                                      # the first part: pages 2k and 2k+1
            assert pages == [("pages/part-00000-000000-0000.parquet", g) for g in range((2 * k + 1) // 64 + 1)]
            assert [g for g in reads.groups if g[0].startswith("docs/")] == [("docs/part-00000-000000.parquet", 0)]
        assert len(doc.pages) == 2
    assert n == 400 and total == 14
    assert len(pages) == total == len(set(pages))       # every pages row group read once


def test_old_docs_rows_without_summaries_still_give_them(tmp_path):
    """Stores written before `page_sizes`: iter_summaries fills it from the pages."""
    store, ids = _store(tmp_path)
    batches = list(store.iter_summaries(("doc_id", "n_pages")))
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["doc_id"] for r in rows] == ids
    assert all(r["page_sizes"] == [{"width": 10, "height": 10, "pages": 10}] for r in rows)
