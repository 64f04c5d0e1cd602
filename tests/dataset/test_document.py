"""The per-document stage on its own: planned slots -> verified QA -> instances, failures as rejection rows."""

from __future__ import annotations

from mmprolong.dataset.document import DocumentJob, attach_images, process_document
from mmprolong.dataset.planner import Slot
from mmprolong.recipe import parse_recipe, recipe_hash

from .docs import make_document

EDGES = [1024, 2048, 4096, 8192]


def recipe(**kw):
    return parse_recipe({"max_length": 8192, "segment": {"min_pages": 3, "max_pages": 6}} | kw)


def test_slots_become_instances_deterministically():
    doc = make_document("d", 20, size=(308, 396))
    r = recipe()
    slots = [Slot("extract-single", "2K-4K", 3000), Slot("reasoning", "1K-2K", 1800)]
    a = process_document(doc, slots, r, recipe_hash(r), EDGES)
    b = process_document(doc, slots, r, recipe_hash(r), EDGES)
    assert [s["task"] for s in a.samples] == ["extract-single", "reasoning"]
    assert a.samples == b.samples and a.qa == b.qa
    assert [s["n_tokens"] <= m for s, m in zip(a.samples, (3000, 1800))] == [True, True]
    assert {q["qa_id"] for q in a.qa} == {s["qa_id"] for s in a.samples}


def test_a_slot_too_small_for_its_evidence_falls_back_to_max_length():
    doc = make_document("d", 20, size=(308, 396))
    r = recipe()
    res = process_document(doc, [Slot("extract-single", "<1K", 200)], r, recipe_hash(r), EDGES)
    assert len(res.samples) == 1 and 200 < res.samples[0]["n_tokens"] <= 8192 and not res.rejected


def test_failures_are_rows():
    doc = make_document("d", 10, size=(308, 396))
    for p in doc.pages:
        p["text"] = ""
    r = recipe()
    res = process_document(doc, [Slot("extract-single", "1K-2K", 2000), Slot("ocr-needle", "1K-2K", 2000)], r,
                           recipe_hash(r), EDGES)
    assert not res.samples and len(res.rejected) == 2
    assert all(row["doc_id"] == "d" and row["reason"] for row in res.rejected)
    missing = process_document(None, [Slot("reasoning", "1K-2K", 2000)], r, recipe_hash(r), EDGES, doc_id="gone")
    assert missing.rejected[0]["reason"].startswith("missing-pages") and missing.rejected[0]["doc_id"] == "gone"


def test_job_returns_rows_without_images_and_the_driver_puts_them_back():
    doc = make_document("d", 12, size=(308, 396))
    r = recipe()
    res = DocumentJob(r, recipe_hash(r), EDGES)((0, "d", doc, [Slot("extract-single", "2K-4K", 3000)]))
    assert res.samples[0]["images"] is None
    attach_images(res, doc)
    assert res.samples[0]["images"] == [doc.pages[p]["image"] for p in res.samples[0]["pages"]]
