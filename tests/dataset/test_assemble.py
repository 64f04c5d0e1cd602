"""Assembly: exact lengths, windows that keep the evidence and whole images, recorded depth, visual budget."""

from __future__ import annotations

import random

import pytest
from .docs import make_document

from mmprolong.dataset.assemble import Rejection, Sample, assemble, build_messages
from mmprolong.synth import ocr_full_target
from mmprolong.synth.record import QARecord


def qa(doc_id="d", segment=(10, 20), evidence=(14,), question="On page 15, how many workers were employed?"):
    return QARecord(doc_id=doc_id, task="extract-single", segment=segment, question=question, answer="1234",
                    answer_format="Integer", evidence_pages=list(evidence), evidence_sources=["Text"])


def check_images(s: Sample, doc):
    """Every page of the window is one whole image part, in order, with its stored pixel size."""
    parts = [p for p in s.messages[0]["content"] if p["type"] == "image"]
    assert [p["page"] for p in parts] == s.pages == list(range(s.pages[0], s.pages[-1] + 1))
    assert len(s.images) == len(parts) == len(s.image_sizes)
    for p, img, size in zip(parts, s.images, s.image_sizes):
        pg = doc.pages[p["page"]]
        assert img == pg["image"] and size == [pg["image_width"], pg["image_height"]] == [p["width"], p["height"]]


def test_whole_document_when_it_fits(counter):
    doc = make_document("d", 30)
    s = assemble(qa(), doc, counter, max_length=131072, rng=random.Random(0))
    assert isinstance(s, Sample) and not s.windowed and s.pages == list(range(30))
    c = counter.count_messages(s.messages)
    assert (s.n_tokens, s.n_image_tokens) == (c.total, c.image_tokens)
    assert s.n_image_tokens == 30 * counter.image_tokens(612, 792)
    # page markers are the 1-based document page numbers, each right before its image
    content = s.messages[0]["content"]
    assert content[0] == {"type": "text", "text": "Page 1:"} and content[1]["page"] == 0
    assert content[-1]["text"] == qa().question
    assert s.messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "1234"}]}
    check_images(s, doc)
    assert s.depth == pytest.approx(14 / 29, abs=0.01)   # by tokens: markers differ a little


@pytest.mark.parametrize("max_length", [20000, 9000, 4500, 3700])
def test_window_keeps_evidence_and_exact_length(counter, max_length):
    doc = make_document("d", 40, sizes=[(612 + 28 * (p % 5), 792) for p in range(40)])
    q = qa(segment=(10, 20), evidence=(12, 16))
    s = assemble(q, doc, counter, max_length=max_length, rng=random.Random(3))
    assert isinstance(s, Sample) and s.windowed
    assert s.n_tokens <= max_length and s.n_tokens == counter.count_messages(s.messages).total
    assert 12 in s.pages and 16 in s.pages
    check_images(s, doc)
    # the window is maximal: one more page on either side would not fit
    for extra in (s.pages[0] - 1, s.pages[-1] + 1):
        if 0 <= extra < 40:
            pages = sorted(s.pages + [extra])
            bigger = counter.count_messages(build_messages(doc, pages, q.question, q.answer)).total
            assert bigger > max_length
    if max_length >= 9000:  # the whole segment fits: kept, so "pages 11-21" scopes stay inside the window
        assert s.pages[0] <= 10 and s.pages[-1] >= 20


def test_depth_follows_the_seed_and_is_recorded(counter):
    doc = make_document("d", 60)
    depths = []
    for seed in range(12):
        s = assemble(qa(segment=(28, 30), evidence=(29,)), doc, counter, max_length=10000, rng=random.Random(seed))
        before = len([p for p in s.pages if p < 29])
        after = len([p for p in s.pages if p > 29])
        assert s.depth == pytest.approx(before / (before + after), abs=0.02)
        depths.append(s.depth)
    assert min(depths) < 0.25 and max(depths) > 0.75    # spread over the window, not always in the middle
    again = assemble(qa(segment=(28, 30), evidence=(29,)), doc, counter, max_length=10000, rng=random.Random(5))
    assert again.depth == depths[5] and again.pages == assemble(
        qa(segment=(28, 30), evidence=(29,)), doc, counter, max_length=10000, rng=random.Random(5)).pages


def test_visual_budget_lowers_pixels_to_fit_the_whole_document(counter):
    doc = make_document("d", 30, size=(1224, 1584))
    s = assemble(qa(), doc, counter, max_length=16384, rng=random.Random(0), visual_budget=True,
                 min_page_pixels=3136)
    assert isinstance(s, Sample) and s.pages == list(range(30)) and not s.windowed
    assert s.max_pixels < counter.max_pixels
    assert all(p["max_pixels"] == s.max_pixels for p in s.messages[0]["content"] if p["type"] == "image")
    assert s.n_tokens <= 16384 and s.n_tokens == counter.count_messages(s.messages).total
    # the largest pixel bound that fits: one more pixel allowed would not fit
    roomier = build_messages(doc, s.pages, qa().question, "1234", max_pixels=s.max_pixels + 1)
    assert counter.count_messages(roomier).total > 16384 or counter.count_messages(roomier).total == s.n_tokens


def test_visual_budget_falls_back_to_a_window_at_the_floor(counter):
    doc = make_document("d", 40, size=(1224, 1584))
    s = assemble(qa(), doc, counter, max_length=6000, rng=random.Random(0), visual_budget=True,
                 min_page_pixels=200_704)
    assert isinstance(s, Sample) and s.windowed and s.max_pixels == 200_704 and 14 in s.pages
    assert s.n_tokens <= 6000 and s.n_tokens == counter.count_messages(s.messages).total


def test_rejections_say_why(counter):
    doc = make_document("d", 20)
    r = assemble(qa(segment=(2, 12), evidence=(2, 12)), doc, counter, max_length=3000, rng=random.Random(0))
    assert isinstance(r, Rejection) and r.kind == "evidence-too-long" and "pages 3-13" in r.reason
    r = assemble(qa(evidence=(25,)), doc, counter, max_length=30000, rng=random.Random(0))
    assert isinstance(r, Rejection) and r.kind == "bad-evidence"
    long_q = qa(question="why? " * 3000)
    assert assemble(long_q, doc, counter, max_length=2000, rng=random.Random(0)).kind == "text-too-long"


def test_ocr_full_target_is_the_windows_transcription(counter):
    doc = make_document("d", 30)
    q = QARecord(doc_id="d", task="ocr-full", segment=(0, 29), question="Transcribe.", answer="",
                 answer_format="String", evidence_pages=[], evidence_sources=["Text"])
    s = assemble(q, doc, counter, max_length=5000, rng=random.Random(1),
                 target_fn=lambda pages: ocr_full_target(doc, pages))
    assert isinstance(s, Sample) and s.windowed and s.depth is None
    assert s.target == ocr_full_target(doc, s.pages)
    assert s.n_tokens <= 5000 and s.n_tokens == counter.count_messages(s.messages).total
    check_images(s, doc)


def test_no_page_markers(counter):
    doc = make_document("d", 5)
    s = assemble(qa(segment=(0, 4), evidence=(2,)), doc, counter, max_length=100000, rng=random.Random(0),
                 page_markers=False)
    assert all(p["type"] == "image" for p in s.messages[0]["content"][:-1])
    assert s.n_tokens == counter.count_messages(s.messages).total


def test_exact_for_qwen3_vl_too():
    from mmprolong import tokens

    c3 = tokens.load("qwen3-vl")
    doc = make_document("d", 30, size=(1224, 1584))
    s = assemble(qa(), doc, c3, max_length=12000, rng=random.Random(0))
    assert isinstance(s, Sample) and s.windowed and 14 in s.pages
    assert s.n_tokens <= 12000 and s.n_tokens == c3.count_messages(s.messages).total
    assert s.n_image_tokens == len(s.pages) * c3.image_tokens(1224, 1584)
