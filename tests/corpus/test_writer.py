"""The store writer: paired part files, PageStore reads them, leftovers of a killed run are dropped."""

from __future__ import annotations

from mmprolong.corpus.ingest import doc_row
from mmprolong.corpus.store import PageStore
from mmprolong.corpus.writer import StoreWriter


def _doc(i: int, n: int):
    doc_id = f"{i:064x}"
    pages = [{"doc_id": doc_id, "page": k, "width": 612.0, "height": 792.0, "image": b"jpeg", "image_width": 10,
              "image_height": 12, "text": f"doc {i} page {k}"} for k in range(n)]
    return doc_row(f"d{i}.pdf", "ok", doc_id=doc_id, n_pages=n, title=f"Doc {i}"), pages


def test_parts_are_flushed_whole_and_read_back(tmp_path):
    w = StoreWriter(tmp_path / "s", flush_pages=5, flush_docs=3)
    for i in range(4):
        w.add(*_doc(i, 3))
    w.add(doc_row("bad.pdf", "corrupt", error="x"))
    w.close()
    docs = sorted(p.name for p in (tmp_path / "s/docs").iterdir())
    pages = sorted(p.name for p in (tmp_path / "s/pages").iterdir())
    assert docs == ["part-00000-000000.parquet", "part-00000-000001.parquet"]
    # pages parts of ~flush_pages pages, named after the docs part whose rows commit them
    assert pages == ["part-00000-000000-0000.parquet", "part-00000-000000-0001.parquet",
                     "part-00000-000001-0000.parquet"]
    store = PageStore(tmp_path / "s")
    got = [(d.doc_id, [p["page"] for p in d.pages]) for d in store.iter_documents(with_images=False)]
    assert got == [(f"{i:064x}", [0, 1, 2]) for i in range(4)]
    assert store.docs_table(ok_only=False).num_rows == 5


def test_docs_parts_hold_many_pages_parts(tmp_path):
    """A docs part is cut by rows (flush_docs), not by the pages flushes: a store of small documents is not one
    docs part per ~flush_pages pages (at 1M documents of 24 pages that was 89K docs parts)."""
    w = StoreWriter(tmp_path / "s", flush_pages=10, flush_docs=1000)
    for i in range(300):
        w.add(*_doc(i, 4))
    w.close()
    assert len(list((tmp_path / "s/docs").iterdir())) == 1
    assert len(list((tmp_path / "s/pages").iterdir())) == 100       # 3 documents (12 pages) a pages part
    store = PageStore(tmp_path / "s")
    assert store.document(f"{123:064x}", with_images=False).pages[3]["text"] == "doc 123 page 3"
    assert sum(1 for _ in store.iter_documents(with_images=False)) == 300


def test_reopen_drops_orphans_and_tmp_and_starts_a_new_run(tmp_path):
    w = StoreWriter(tmp_path / "s", flush_pages=1, flush_docs=1)
    w.add(*_doc(0, 2))
    # a killed run: pages parts written, docs part never committed; a half-written tmp file
    w.add(*_doc(1, 2))   # committed
    w.flush_docs = 10
    w.add(*_doc(2, 2))   # its pages part is written at once (flush_pages=1), its docs row is held
    orphan = tmp_path / "s/pages/part-00000-000002-0000.parquet"
    assert orphan.exists()
    (tmp_path / "s/docs/part-00000-000002.parquet.tmp").write_bytes(b"half")
    w2 = StoreWriter(tmp_path / "s")
    assert w2.removed_orphans == 1 and not orphan.exists()
    assert not list((tmp_path / "s/docs").glob("*.tmp"))
    assert w2.run == 1
    assert w2.committed_docs().column("source").to_pylist() == ["d0.pdf", "d1.pdf"]


def test_manifest_counts_come_from_committed_docs(tmp_path):
    w = StoreWriter(tmp_path / "s")
    w.add(*_doc(0, 4))
    w.add(doc_row("e.pdf", "encrypted"))
    w.close()
    m = w.write_manifest({"dpi": 144}, {"mmprolong": "x"}, complete=True)
    assert m["counts"] == {"encrypted": 1, "ok": 1} and m["pages"] == 4 and m["complete"]
    assert PageStore(tmp_path / "s").manifest["settings"] == {"dpi": 144}


def test_parts_of_other_writers_follow_the_same_commit_rule(tmp_path):
    w = StoreWriter(tmp_path / "s")
    w.add(*_doc(0, 2))
    w.close()
    src = tmp_path / "s/pages/part-00000-000000-0000.parquet"
    (tmp_path / "s/pages/import-abc.parquet").write_bytes(src.read_bytes())          # committed below
    (tmp_path / "s/docs/import-abc.parquet").write_bytes((tmp_path / "s/docs/part-00000-000000.parquet").read_bytes())
    (tmp_path / "s/pages/import-half.parquet").write_bytes(src.read_bytes())         # never committed
    w2 = StoreWriter(tmp_path / "s")
    assert w2.removed_orphans == 1 and (tmp_path / "s/pages/import-abc.parquet").exists()
    assert w2.committed_docs().num_rows == 2


def _scanned_index(store_dir) -> dict:
    """doc_id -> [(file, row group)] by reading every row group's doc_id column (what old stores fall back to)."""
    import pyarrow.parquet as pq

    index: dict = {}
    for f in sorted((store_dir / "pages").glob("*.parquet")):
        pf = pq.ParquetFile(f)
        for rg in range(pf.metadata.num_row_groups):
            for d in set(pf.read_row_group(rg, columns=["doc_id"]).column("doc_id").to_pylist()):
                index.setdefault(d, []).append((str(f), rg))
    return index


def test_batched_parts_name_each_documents_row_groups(tmp_path):
    from mmprolong.corpus.writer import PAGE_ROW_GROUP

    w = StoreWriter(tmp_path / "s", flush_pages=400)
    sizes = [3, 70, 1, 130, 64, 5]          # straddling row groups of PAGE_ROW_GROUP rows in every way
    assert PAGE_ROW_GROUP == 64
    for i, n in enumerate(sizes):
        w.add(*_doc(i, n))
    w.add(doc_row("bad.pdf", "corrupt", error="x"))
    w.close()
    store = PageStore(tmp_path / "s")
    rows = {r["source"]: r for r in store.docs_table(ok_only=False).to_pylist()}
    assert rows["bad.pdf"]["pages_file"] is None and rows["d0.pdf"]["pages_file"] == "part-00000-000000-0000.parquet"
    assert rows["d1.pdf"]["page_row_groups"] == [0, 1] and rows["d3.pdf"]["page_row_groups"] == [1, 2, 3]
    located = store.locate([f"{i:064x}" for i in range(len(sizes))])
    assert {d: sorted(v) for d, v in located.items()} == {d: sorted(v) for d, v in _scanned_index(tmp_path / "s").items()}
    from mmprolong.corpus.store import read_document

    for i, n in enumerate(sizes):
        doc = read_document(rows[f"d{i}.pdf"], located[f"{i:064x}"], with_images=False)
        assert [p["text"] for p in doc.pages] == [f"doc {i} page {k}" for k in range(n)]


def test_worker_written_pages_files_are_committed_by_the_docs_row_that_names_them(tmp_path):
    from mmprolong.corpus.writer import PagesFile, doc_pages_name

    w = StoreWriter(tmp_path / "s")
    names = []
    for i, n in enumerate((2, 130)):
        doc, pages = _doc(i, n)
        out = PagesFile(w.pages_url(doc_pages_name(doc["doc_id"])))
        out.write(pages[:65])
        out.write(pages[65:])
        doc.update(pages_file=doc_pages_name(doc["doc_id"]), page_row_groups=out.close())
        names.append(doc["pages_file"])
        if i == 0:
            w.add(doc)
    w.close()            # the second document's row never came: the driver died before committing it
    half = PagesFile(w.pages_url(doc_pages_name("f" * 64)))   # a worker killed while writing
    half.write(_doc(9, 70)[1])
    assert (tmp_path / "s/pages" / (doc_pages_name("f" * 64) + ".tmp")).exists()
    w2 = StoreWriter(tmp_path / "s")
    assert w2.removed_orphans == 1
    assert sorted(p.name for p in (tmp_path / "s/pages").iterdir()) == [names[0]]
    store = PageStore(tmp_path / "s")
    assert store.locate([f"{0:064x}"]) == {f"{0:064x}": [(str(tmp_path / "s/pages" / names[0]), 0)]}
    assert [p["page"] for p in store.document(f"{0:064x}").pages] == [0, 1]


def test_a_discarded_pages_file_leaves_nothing(tmp_path):
    from mmprolong.corpus.writer import PagesFile

    w = StoreWriter(tmp_path / "s")
    out = PagesFile(w.pages_url("doc-x.parquet"))
    out.write(_doc(0, 100)[1])
    out.discard()
    assert list((tmp_path / "s/pages").iterdir()) == []


def test_a_store_written_before_the_location_columns_is_resumed_and_located(tmp_path):
    """docs parts without pages_file / page_row_groups: committed by docs/NAME.parquet, located by a scan."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmprolong import schema

    old_docs = pa.schema([f for f in schema.DOCS if f.name not in ("pages_file", "page_row_groups")])
    (tmp_path / "s/docs").mkdir(parents=True)
    (tmp_path / "s/pages").mkdir()
    doc, pages = _doc(0, 70)
    pq.write_table(pa.Table.from_pylist(pages, schema=schema.PAGES), tmp_path / "s/pages/part-00000-000000.parquet",
                   row_group_size=64)
    pq.write_table(pa.Table.from_pylist([doc, doc_row("e.pdf", "error", error="x")], schema=old_docs),
                   tmp_path / "s/docs/part-00000-000000.parquet")
    w = StoreWriter(tmp_path / "s")
    assert w.removed_orphans == 0 and w.run == 1
    assert w.drop_rows({"e.pdf"}, ("error",)) == 1
    w.add(*_doc(1, 2))
    w.close()
    store = PageStore(tmp_path / "s")
    part0 = str(tmp_path / "s/pages/part-00000-000000.parquet")
    assert store.locate([f"{0:064x}"]) == {f"{0:064x}": [(part0, 0), (part0, 1)]}
    assert [d.n_pages for d in store.iter_documents(with_images=False)] == [70, 2]
    assert store.docs_table(ok_only=False).column("pages_file").to_pylist() == [None, "part-00001-000000-0000.parquet"]
