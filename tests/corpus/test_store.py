"""PageStore random access: the row-group index reads only the row groups that hold a document's pages."""

from __future__ import annotations

import pyarrow as pa
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
