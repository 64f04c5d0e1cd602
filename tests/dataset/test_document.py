"""The per-document stage on its own: planned slots -> verified QA -> instances, failures as rejection rows."""

from __future__ import annotations

import pickle

import pyarrow.parquet as pq

from mmprolong.corpus.store import PageStore
from mmprolong.dataset.build import DOC_ROW_FIELDS
from mmprolong.dataset.document import DocItem, DocumentJob, light, process_document, slot_attempts
from mmprolong.dataset.parts import staged_url
from mmprolong.dataset.planner import Slot
from mmprolong.recipe import parse_recipe, recipe_hash

from .docs import make_document, write_store

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
    # extract-single on 3 segments, then the recipe's other QA tasks once each, then the OCR slot once
    assert not res.samples and [row["task"] for row in res.rejected] == [
        "extract-single"] * 3 + ["extract-multi", "reasoning", "ocr-needle"]
    assert all(row["doc_id"] == "d" and row["reason"] for row in res.rejected)
    missing = process_document(None, [Slot("reasoning", "1K-2K", 2000)], r, recipe_hash(r), EDGES, doc_id="gone")
    assert missing.rejected[0]["reason"].startswith("missing-pages") and missing.rejected[0]["doc_id"] == "gone"


def test_job_reads_its_document_and_stages_the_images(tmp_path):
    doc = make_document("d", 12, size=(308, 396))
    store = PageStore(write_store(tmp_path / "store", [doc]))
    row = {k: v for k, v in store.docs_table().to_pylist()[0].items() if k in DOC_ROW_FIELDS}
    r = recipe()
    slots = [Slot("extract-single", "2K-4K", 3000)]
    item = DocItem(0, 7, "d", row, store.locate(["d"])["d"], slots)
    assert len(pickle.dumps(item)) < 2000   # the driver sends ids, rows and locations, never pages
    res = DocumentJob(r, recipe_hash(r), EDGES, staging=str(tmp_path / "out"))(item)
    assert res.staged == staged_url(str(tmp_path / "out"), 7)
    full = process_document(doc, slots, r, recipe_hash(r), EDGES)
    assert res.samples == [light(s) for s in full.samples] and res.qa == full.qa
    assert res.samples[0]["image_bytes"] == sum(len(doc.pages[p]["image"]) for p in full.samples[0]["pages"])
    assert pq.read_table(res.staged).to_pylist() == full.samples   # the worker keeps the images
    held = DocumentJob(r, recipe_hash(r), EDGES)(item)   # no staging: the full rows come back
    assert held.staged is None and held.samples == full.samples
    gone = DocumentJob(r, recipe_hash(r), EDGES, staging=str(tmp_path / "out"))(DocItem(1, 8, "x", row, [], slots))
    assert gone.rejected[0]["reason"].startswith("missing-pages") and gone.staged is None


def test_a_slot_without_qa_is_retried_on_another_segment():
    # three 4-page sections, facts only in the first: a slot finds them within its three segment tries
    retried = 0
    for seed in range(12):
        doc = make_document("d", 12, size=(308, 396))
        for p in doc.pages[4:]:
            p["text"] = "Nothing to ask about here."
        doc.sections = [{"first_page": f, "level": 0, "heading": f"Part {f}"} for f in (0, 4, 8)]
        r = recipe(seed=seed, segment={"min_pages": 4, "max_pages": 4})
        res = process_document(doc, [Slot("extract-single", "2K-4K", 8192)], r, recipe_hash(r), EDGES)
        assert len(res.samples) == 1 and res.samples[0]["task"] == "extract-single"
        assert res.qa[0]["segment_first"] == 0
        segs = [row["reason"].rsplit("pages ", 1)[1] for row in res.rejected if row["reason"].startswith("no-qa")]
        assert len(segs) == len(set(segs)) and "1-4" not in segs   # each retry on a segment not tried before
        retried += bool(segs)
    assert retried


def test_a_task_the_document_cannot_give_falls_back_to_another_task():
    doc = make_document("d", 4, size=(308, 396))
    for p in doc.pages:   # one number in the document: nothing to compare or add up, but a fact to extract
        p["text"] = "The Redhill plant employed 120 workers in 2003." if p["page"] == 0 else ""
    r = recipe(segment={"min_pages": 4, "max_pages": 6})
    res = process_document(doc, [Slot("reasoning", "2K-4K", 8192)], r, recipe_hash(r), EDGES)
    assert len(res.samples) == 1 and res.samples[0]["task"] != "reasoning"
    assert [row["task"] for row in res.rejected][:3] == ["reasoning"] * 3


def test_slot_attempts():
    r = recipe()
    assert slot_attempts("reasoning", r) == ["reasoning"] * 3 + ["extract-single", "extract-multi"]
    assert slot_attempts("ocr-needle", r) == ["ocr-needle"]
