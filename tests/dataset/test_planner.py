"""Planning: task shares, page-range filters, histogram buckets, budget, determinism, store order."""

from __future__ import annotations

from collections import Counter

import pytest
from .docs import make_document, write_store

from mmprolong.corpus.store import PageStore
from mmprolong.dataset.assemble import build_messages
from mmprolong.dataset.planner import make_plan
from mmprolong.recipe import parse_recipe


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    sizes = [6, 12, 20, 33, 40, 45, 50, 55, 70, 90, 99, 120] * 2
    docs = [make_document(f"doc{i:02d}", n, size=(308, 396)) for i, n in enumerate(sizes)]  # 154 tokens/page
    return PageStore(write_store(tmp_path_factory.mktemp("store"), docs))


def recipe(**kw):
    base = {"segment": {"min_pages": 4, "max_pages": 8}, "budget_tokens": 10**9}
    return parse_recipe(base | kw)


def test_pool_native_keeps_the_page_range_and_task_shares(store):
    r = recipe(lengths={"mode": "pool-native", "min_pages": 32, "max_pages": 50}, per_document=5)
    plan = make_plan(r, store)
    assert sorted({d.n_pages for d in plan.docs}) == [33, 40, 45, 50]
    assert plan.eligible_docs == 8 and plan.skipped == {"pages outside 32-50": 16}
    tasks = Counter(s.task for d in plan.docs for s in d.slots)
    assert tasks == {"extract-single": 16, "extract-multi": 16, "reasoning": 8}   # 40 slots, 40/40/20
    assert sum(sum(b.values()) for b in plan.targets.values()) == plan.n_instances == 40
    assert all(s.max_tokens == r.max_length for d in plan.docs for s in d.slots)
    # natural spread: each document planned at its own length's bucket
    assert plan.target_shares == {"4K-8K": 1.0}   # 33-50 pages of 160 tokens


def test_long_biased_takes_50_to_100_pages(store):
    plan = make_plan(recipe(lengths={"mode": "long-biased"}), store)
    assert sorted({d.n_pages for d in plan.docs}) == [50, 55, 70, 90, 99]


def test_page_tokens_are_exact(store, counter):
    plan = make_plan(recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 200}), store)
    d = next(d for d in plan.docs if d.n_pages == 12)
    doc = store.document(d.doc_id)
    with_pages = counter.count_messages(build_messages(doc, list(range(12)), "q?", "a")).total
    without = counter.count_messages(build_messages(doc, [], "q?", "a")).total
    assert d.page_tokens == with_pages - without


def test_histogram_fills_buckets_evenly(store):
    edges = [2048, 4096, 8192, 16384]
    r = recipe(lengths={"mode": "histogram", "edges": edges}, max_length=16384, per_document=3)
    plan = make_plan(r, store)
    assert plan.target_shares == pytest.approx({"2K-4K": 1 / 3, "4K-8K": 1 / 3, "8K-16K": 1 / 3})
    buckets = Counter(s.bucket for d in plan.docs for s in d.slots)
    assert max(buckets.values()) - min(buckets.values()) <= 1
    for d in plan.docs:
        for s in d.slots:
            lo, hi = {"2K-4K": (2048, 4096), "4K-8K": (4096, 8192), "8K-16K": (8192, 16384)}[s.bucket]
            assert lo <= s.max_tokens <= hi and d.page_tokens + 128 >= lo   # long enough for its bucket
    assert plan.skipped.get("shorter than 2048 tokens") == 2            # the 6-page documents


def test_budget_limits_the_plan(store):
    r = recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 200}, budget_tokens=30_000)
    plan = make_plan(r, store)
    assert 30_000 * 1.25 <= plan.planned_tokens < 30_000 * 1.25 + 20_000
    assert len(plan.docs) == 24 - plan.skipped.get("fewer than 4 pages (segment)", 0)   # later rounds: all the rest
    assert plan.to_json()["rounds"] > 1 and plan.docs[0].round == 0


def test_plan_is_deterministic_in_store_order(store):
    r = recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 200}, budget_tokens=60_000)
    a, b = make_plan(r, store), make_plan(r, store)
    assert a.digest() == b.digest() and a.to_json() == b.to_json()
    for rnd in range(a.docs[-1].round + 1):
        order = [d.doc_id for d in a.docs if d.round == rnd]
        assert order == sorted(order)                   # the store's order within a round
    assert [d.round for d in a.docs] == sorted(d.round for d in a.docs)
    other = make_plan(recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 200},
                             budget_tokens=60_000, seed=7), store)
    assert other.digest() != a.digest()


def test_ocr_tasks_need_no_segment(store):
    r = recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 10},
               segment={"min_pages": 8, "max_pages": 15}, mixture={"tasks": {"ocr-needle": 1.0}})
    assert {d.n_pages for d in make_plan(r, store).docs} == {6}
    r = recipe(lengths={"mode": "pool-native", "min_pages": 1, "max_pages": 10},
               segment={"min_pages": 8, "max_pages": 15})
    assert make_plan(r, store).docs == []


def test_histogram_limit_stays_inside_its_bucket(store):
    """A slot's max_tokens is a length its own bucket holds (buckets are [lo, hi), the top edge inclusive): a
    bucket narrower than a page must not get the limit hi, which bucket_of labels as the next bucket."""
    from mmprolong.dataset.buckets import bucket_of

    edges = [2048, 2100, 4096, 8192]
    r = recipe(lengths={"mode": "histogram", "edges": edges}, max_length=8192, per_document=3)
    plan = make_plan(r, store)
    slots = [s for d in plan.docs for s in d.slots]
    assert any(s.bucket == "2K-2.1K" for s in slots)
    assert all(bucket_of(s.max_tokens, edges) == s.bucket for s in slots)


def test_planning_reads_no_pages_file(tmp_path, counter):
    """A store written by StoreWriter carries each document's page sizes in its docs rows: the plan is the same
    with every pages file gone, and the same as from a store whose rows predate the summaries (read from pages)."""
    import shutil

    from mmprolong.corpus.ingest import doc_row
    from mmprolong.corpus.writer import StoreWriter

    sizes = [6, 12, 20, 33, 40, 45, 50, 55, 70, 90, 99, 120]
    docs = [make_document(f"doc{i:02d}", n, size=(308, 396) if i % 3 else (400, 300)) for i, n in enumerate(sizes)]
    for d in docs[1::4]:                                 # mixed sizes inside a document: several runs
        d.pages[1]["image_width"], d.pages[1]["image_height"] = 612, 792
    old = PageStore(write_store(tmp_path / "old", docs))
    w = StoreWriter(tmp_path / "new", flush_docs=5)
    for d in docs:
        w.add(doc_row(d.source, "ok", doc_id=d.doc_id, n_pages=d.n_pages, title=d.title, sections=d.sections),
              [{**p, "text_source": "layer"} for p in d.pages])
    w.close()
    shutil.rmtree(tmp_path / "new" / "pages")
    (tmp_path / "new" / "pages").mkdir()
    for kw in ({"lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 200}, "budget_tokens": 40_000},
               {"lengths": {"mode": "histogram", "edges": [1000, 4000, 16000, 64000]}}):
        r = recipe(**kw)
        a, b = make_plan(r, old), make_plan(r, PageStore(tmp_path / "new"))
        assert a.to_json() == b.to_json() and len(b.docs) > 0
