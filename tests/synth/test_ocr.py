import random

import pytest

from mmprolong.synth import GenerationError, make_ocr_needle, ocr_full_target

from .docs import make_doc, report_doc


def test_full_target_has_page_markers_and_text():
    doc = make_doc(["First page\n\n\n\nline two  ", "", "Third"])
    assert ocr_full_target(doc, [0, 1, 2]) == "### Page 1\nFirst page\n\nline two\n\n### Page 2\n\n\n### Page 3\nThird"


def test_needle_names_1_to_3_pages_with_text():
    doc = report_doc()
    counts = set()
    for s in range(30):
        qa = make_ocr_needle(doc, random.Random(s))
        counts.add(len(qa.evidence_pages))
        assert qa.task == "ocr-needle" and 8 not in qa.evidence_pages  # page 9 has no text
        assert qa.answer == ocr_full_target(doc, qa.evidence_pages)
        for p in qa.evidence_pages:
            assert f"page {p + 1}" in qa.question or f" {p + 1}" in qa.question
    assert counts == {1, 2, 3}
    assert make_ocr_needle(doc, random.Random(1)) == make_ocr_needle(doc, random.Random(1))


def test_needle_without_text_layer():
    with pytest.raises(GenerationError, match="no_text_layer"):
        make_ocr_needle(make_doc(["", " "]), random.Random(0))
