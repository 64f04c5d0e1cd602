"""Near-duplicate documents: MinHash/LSH over page text finds two editions of one manual (different bytes), keeps
the longer one, catches pool documents near an eval document, and the build's plan leaves them out."""

from __future__ import annotations

import random

import pytest

from mmprolong.cli.main import main
from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.neardup import FILE, find_near_duplicates, read_near_duplicates, signature
from mmprolong.corpus.store import PageStore
from mmprolong.dataset.planner import make_plan
from mmprolong.recipe import parse_recipe

WORDS = ("valve pump sensor cable module firmware reset signal voltage bracket filter gasket relay panel switch "
         "router socket mount lever spring housing screen battery charger adapter").split()


def _pages(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(n)]


def test_near_duplicates_keep_the_longer_document_whatever_the_order():
    a = _pages(1, 30)
    b = a[:28] + _pages(2, 1)                      # another edition: 28 of its 29 pages the same
    c = _pages(3, 30)                              # another manual
    docs = [("b", 29, b), ("c", 30, c), ("a", 30, a)]
    for order in (docs, docs[::-1]):
        found = find_near_duplicates(order)
        assert [(d.doc_id, d.kept_doc_id, d.kind) for d in found] == [("b", "a", "pool")]
        assert 0.8 <= found[0].similarity <= 1
    assert signature(["too short"]) is None
    with pytest.raises(ValueError, match="threshold"):
        find_near_duplicates(docs, threshold=0)


def _pdf(path, pages: list[str], stamp: str):
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), pagesize=letter, invariant=1)
    c.setTitle(stamp)
    for text in pages:
        c.setFont("Helvetica", 9)
        words = text.split()
        for k in range(0, len(words), 14):
            c.drawString(50, 740 - 12 * (k // 14), " ".join(words[k:k + 14]))
        c.showPage()
    c.save()
    return path


def test_dedup_store_and_builds_leave_near_duplicates_out(tmp_path):
    src = tmp_path / "pdfs"
    src.mkdir()
    manual = _pages(10, 12)
    _pdf(src / "manual-2019.pdf", manual, "Edition 2019")
    _pdf(src / "manual-2020.pdf", manual[:11] + _pages(11, 1), "Edition 2020")    # other bytes, same text
    _pdf(src / "other.pdf", _pages(12, 12), "Other")
    _pdf(src / "held-out-copy.pdf", _pages(13, 12), "Pool copy of an eval document")
    evals = tmp_path / "eval"
    evals.mkdir()
    _pdf(evals / "eval-doc.pdf", _pages(13, 12), "Eval document")
    store = tmp_path / "store"
    ingest([str(src)], store, IngestConfig(dpi=18, workers=1))
    ps = PageStore(store)
    assert len(ps.doc_ids()) == 4
    assert main(["dedup", str(store), "--against", str(evals), "--quiet"]) == 0
    nd = read_near_duplicates(store)
    assert (store / FILE).exists() and sorted(d.kind for d in nd.values()) == ["eval", "pool"]
    names = {r["doc_id"]: r["source"].rsplit("/", 1)[-1] for r in ps.docs_table(["doc_id", "source"]).to_pylist()}
    pool = next(d for d in nd.values() if d.kind == "pool")
    assert {names[pool.doc_id], names[pool.kept_doc_id]} == {"manual-2019.pdf", "manual-2020.pdf"}
    ev = next(d for d in nd.values() if d.kind == "eval")
    assert names[ev.doc_id] == "held-out-copy.pdf"
    recipe = parse_recipe({"max_length": 8192, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 50},
                           "segment": {"min_pages": 3, "max_pages": 6}, "budget_tokens": 10**6})
    plan = make_plan(recipe, ps)
    assert {d.doc_id for d in plan.docs} == set(ps.doc_ids()) - set(nd)
    assert plan.skipped == {"near-duplicate of a kept document": 1, "near-duplicate of an eval document": 1}
    kept = make_plan(recipe, ps, keep_near_duplicates=True)
    assert {d.doc_id for d in kept.docs} == set(ps.doc_ids()) - {ev.doc_id}
