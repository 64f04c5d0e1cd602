"""The build holds the recipe's task mix and its token budget: failed slots are retried in the document, instances
over their task's share are left out in plan order and later documents top up, tokens end within 1% of the budget
(or the summary says the pool ran out)."""

from __future__ import annotations

from collections import Counter

import pytest

from mmprolong.dataset.build import build
from mmprolong.dataset.parts import read_table
from mmprolong.dataset.quota import Quota
from mmprolong.recipe import parse_recipe

from .docs import make_document, write_store
from .test_build import shard_bytes

RECIPE = {"name": "mix", "max_length": 2048, "max_pixels": 200_704,
          "lengths": {"mode": "histogram", "edges": [512, 1024, 2048]},
          "segment": {"min_pages": 3, "max_pages": 6}, "per_document": 2, "shard_size": 50}
SHARES = {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    docs = []
    for i in range(150):
        d = make_document(f"m{i:03d}", 6 + i % 5, size=(224, 280))
        if i % 5 == 0:   # a fifth of the documents hold one number: no reasoning there, the slot falls back
            for p in d.pages:
                p["text"] = "The Redhill plant employed 120 workers in 2003." if p["page"] == 0 else ""
        docs.append(d)
    return write_store(tmp_path_factory.mktemp("mixstore"), docs)


def test_mix_and_budget_hold_on_a_build_of_over_100_instances(store, tmp_path):
    budget = 80_000
    # dedup=False: these documents come from a few text templates, so most are near-duplicates of each other
    s = build(parse_recipe(RECIPE | {"budget_tokens": budget}), store, tmp_path / "a", workers=1, progress=False,
              report=False, dedup=False)
    tasks = read_table(tmp_path / "a", "shards", ["task"]).column("task").to_pylist()
    n = len(tasks)
    assert n >= 100 and not s.pool_exhausted
    for t, share in SHARES.items():
        assert abs(tasks.count(t) / n - share) <= 0.01, (t, Counter(tasks))
    assert abs(s.tokens - budget) <= 0.01 * budget
    rej = Counter(r.split(":")[0] for r in read_table(tmp_path / "a", "rejected", ["reason"]).column("reason")
                  .to_pylist())
    assert rej["no-qa"] > 0     # failures were retried (the mix is held by steering and the reserve, see below)
    build(parse_recipe(RECIPE | {"budget_tokens": budget}), store, tmp_path / "b", workers=2, progress=False,
          report=False, dedup=False)
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")


def test_a_pool_too_small_for_the_budget_says_so(store, tmp_path):
    s = build(parse_recipe(RECIPE | {"budget_tokens": 10**8}), store, tmp_path / "o", workers=1, progress=False,
              report=False, dedup=False)
    assert s.pool_exhausted and s.tokens < 10**8 and s.docs_done == s.docs_planned


def test_quota_rules():
    q = Quota(SHARES, budget=10_000)
    assert q.take("reasoning", 100) is None                    # the first instance of any task is taken
    assert q.take("reasoning", 100).startswith("mix:")          # a second would be 2 of 2
    for _ in range(2):
        assert q.take("extract-single", 100) is None and q.take("extract-multi", 100) is None
    assert q.take("ocr-full", 100).startswith("mix:")           # not in the recipe
    assert q.take("reasoning", 19_500).startswith("budget:")    # would end further from the budget than now
    assert q.take("reasoning", 9_450) is None and not q.stop    # 9,950: within 1%, under the budget
    assert q.take("extract-single", 1_000).startswith("budget:") and q.stop and q.tokens == 9_950
    q = Quota({"ocr-full": 1.0}, budget=1000)
    assert q.take("ocr-full", 600) is None and not q.stop
    assert q.take("ocr-full", 700) is None and q.stop           # 1300 is nearer 1000 than 600 is


def test_the_quota_keeps_every_documents_verified_instance(store, tmp_path):
    """One instance per document, a fifth of the documents unable to give reasoning (their slot falls back to
    extraction): the build chooses tasks from the running deficit and holds what the mix cannot take yet, so every
    document that gave a verified instance contributes one (the quota that left instances out as they came lost 55
    of these 150 documents), and the mix still holds."""
    s = build(parse_recipe(RECIPE | {"budget_tokens": 10**8, "per_document": 1}), store, tmp_path / "o", workers=1,
              progress=False, report=False)
    kept = read_table(tmp_path / "o", "shards", ["doc_id", "task"]).to_pylist()
    rejected = read_table(tmp_path / "o", "rejected", ["doc_id", "reason"]).to_pylist()
    gave = {r["doc_id"] for r in kept} | {r["doc_id"] for r in rejected if r["reason"].startswith("mix")}
    lost = gave - {r["doc_id"] for r in kept}
    assert s.docs_done == 150 and len(gave) >= 140 and lost == set()
    tasks = Counter(r["task"] for r in kept)
    for t, share in SHARES.items():
        assert abs(tasks[t] / len(kept) - share) <= 0.01, tasks


def test_steer_chooses_a_task_that_yields_less_more_often():
    from mmprolong.dataset.quota import Steer

    st = Steer(SHARES, counts={})
    st.chosen, st.delivered = {"reasoning": 40, "extract-single": 40, "extract-multi": 40}, \
        {"reasoning": 10, "extract-single": 55, "extract-multi": 55}   # reasoning: one instance in four slots
    picks = Counter()
    for i in range(100):
        tasks, order = st.choose(i, 1)
        picks[tasks[0]] += 1
        st.counts[tasks[0]] = st.counts.get(tasks[0], 0)   # nothing consumed yet: the projection alone steers
    assert picks["reasoning"] > 40 and order[0] in SHARES
    snap = st.snapshot(50)
    fresh = Steer(SHARES, counts={})
    ready = fresh.restore(snap)
    assert sorted(ready) == list(range(50, 100)) and fresh.chosen == st.chosen
