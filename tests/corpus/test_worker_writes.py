"""`ingest --worker-writes`: workers write their documents' pages files, the driver commits docs rows only; the store
holds the same documents as when the driver batches the pages, whatever the number of workers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.store import PageStore

LOCATION = ("seconds", "pages_file", "page_row_groups")   # where the pages are and how long they took: not content


def snapshot(store) -> tuple[dict, dict]:
    """docs rows by source (without LOCATION) and, per document, its pages' content (text, image hash, sizes)."""
    ps = PageStore(store)
    docs = {r["source"]: {k: v for k, v in r.items() if k not in LOCATION}
            for r in ps.docs_table(ok_only=False).to_pylist()}
    pages = {}
    for d in ps.iter_documents():
        pages[d.doc_id] = [(p["page"], p["text"], p["text_source"], p["width"], p["height"], p["image_width"],
                            p["image_height"], hashlib.sha256(p["image"]).hexdigest()) for p in d.pages]
    return docs, pages


def test_same_store_for_driver_batches_and_worker_writes_with_1_and_2_workers(corpus_dir, tmp_path):
    fast = dict(dpi=36, jpeg_quality=60, progress=False)
    stores = {}
    for name, kw in {"batched-1": dict(workers=1, worker_writes=False),
                     "workers-1": dict(workers=1, worker_writes=True),
                     "workers-2": dict(workers=2, worker_writes=True)}.items():
        stores[name] = tmp_path / name
        s = ingest([str(corpus_dir)], stores[name], IngestConfig(**fast, **kw))
        assert s.counts["ok"] == 4
    ref = snapshot(stores["batched-1"])
    assert len(ref[1]) == 4 and all(ref[1].values())
    for name in ("workers-1", "workers-2"):
        assert snapshot(stores[name]) == ref, name
        ps = PageStore(stores[name])
        ok = ps.docs_table().to_pylist()
        # one pages file per ok document, named by its row, and nothing else in pages/
        assert sorted(p.name for p in (stores[name] / "pages").iterdir()) == sorted(f"doc-{r['doc_id']}.parquet"
                                                                                    for r in ok)
        for r in ok:
            assert ps.locate([r["doc_id"]])[r["doc_id"]] == [
                (str(stores[name] / "pages" / r["pages_file"]), rg) for rg in r["page_row_groups"]]
    batched = PageStore(stores["batched-1"]).docs_table().to_pylist()
    assert {r["pages_file"] for r in batched} == {p.name for p in (stores["batched-1"] / "pages").iterdir()}


def test_a_timed_out_document_leaves_no_pages_file(demo_pdfs, tmp_path):
    out = tmp_path / "store"
    s = ingest([str(demo_pdfs[0])], out, IngestConfig(dpi=200, workers=1, timeout_s=0.5, progress=False,
                                                      worker_writes=True))
    assert s.counts == {"timeout": 1}
    assert list(Path(out, "pages").iterdir()) == []
    again = ingest([str(demo_pdfs[0])], out, IngestConfig(dpi=200, workers=1, retry_failed=True, progress=False,
                                                          worker_writes=True, timeout_s=300))
    assert again.counts == {"ok": 1}
    assert [p.name for p in Path(out, "pages").iterdir()] == [f"doc-{PageStore(out).doc_ids()[0]}.parquet"]
