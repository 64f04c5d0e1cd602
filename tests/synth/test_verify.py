from dataclasses import replace

import pytest

from mmprolong.synth import Deduper, QARecord, verify

from .docs import report_doc

DOC = report_doc()


def _qa(**kw):
    base = dict(doc_id="doc-a", task="extract-single", segment=(0, 5),
                question="On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
                answer="4210", answer_format="Integer", evidence_pages=[1], evidence_sources=["Text"])
    base.update(kw)
    return QARecord(**base)


def test_good_item_passes_every_check():
    v = verify(_qa(), DOC)
    assert v.ok and {"evidence_in_segment", "format_ok", "scope_anchor", "evidence_in_scope",
                     "answer_in_evidence"} <= set(v.checks_passed)


@pytest.mark.parametrize("kw, reason", [
    (dict(evidence_pages=[7]), "evidence_outside_segment"),
    (dict(evidence_pages=[]), "no_evidence_pages"),
    (dict(segment=(0, 40)), "segment_out_of_document"),
    (dict(answer="about 4210"), "format_mismatch"),
    (dict(answer="4210.5"), "format_mismatch"),
    (dict(answer_format="Date"), "format_mismatch"),
    (dict(answer="4310"), "answer_not_in_evidence"),
    (dict(question="How many tonnes of steel did the Northwind plant produce in 2019?"), "no_scope_anchor"),
    (dict(question="On page 3, how many tonnes of steel did the Northwind plant produce in 2019?"),
     "evidence_outside_scope"),
    (dict(evidence_sources=["Video"]), "bad_evidence_source"),
    (dict(task="summary"), "unknown_task"),
    (dict(question="On page 2, did the Northwind plant produce 4,210 tonnes of steel in 2019?"), "answer_in_question"),
])
def test_each_bad_item_fails_with_its_reason(kw, reason):
    v = verify(_qa(**kw), DOC)
    assert reason in v.checks_failed, v.checks_failed


def test_normalised_matching_formats_and_lists():
    assert verify(_qa(answer="4,210"), DOC).ok
    assert verify(_qa(answer="4210.0", answer_format="Float"), DOC).ok
    assert verify(_qa(task="extract-multi", question="What were the 2019 outputs on pages 2 and 3?",
                      answer='["4210", "2,150"]', answer_format="List", evidence_pages=[1, 2]), DOC).ok
    assert verify(_qa(task="extract-multi", question="What were the 2019 outputs on pages 2-3?",
                      answer="4210, 2150", answer_format="List", evidence_pages=[1, 2]), DOC).ok
    bad = verify(_qa(task="extract-multi", question="What were the 2019 outputs on pages 2 and 3?",
                     answer='["4210", "9999"]', answer_format="List", evidence_pages=[1, 2]), DOC)
    assert bad.checks_failed == ["answer_not_in_evidence"]
    s = verify(_qa(question="On page 3, who was appointed plant manager of the Southfield plant?",
                   answer="MARIA  okafor", answer_format="String", evidence_pages=[2]), DOC)
    assert s.ok


def test_section_anchor():
    q = 'In the section "2 Production", what is the 2020 value for Southfield in Table 1?'
    assert verify(_qa(question=q, answer="2300", evidence_pages=[3], evidence_sources=["Table"]), DOC).ok
    assert "evidence_outside_scope" in verify(_qa(question=q, answer="4210"), DOC).checks_failed


def test_evidence_without_text_is_unchecked_by_rules():
    v = verify(_qa(question="On page 9, what is shown?", answer="a chart", answer_format="String",
                   evidence_pages=[8], segment=(5, 9)), DOC)
    assert v.checks_failed == ["unchecked_by_rules"] and "answer_in_evidence" not in v.checks_passed


def _reasoning(answer, calc, fmt="Integer"):
    return _qa(task="reasoning", question="On pages 2 and 3, what is the difference in 2019 output?",
               answer=answer, answer_format=fmt, evidence_pages=[1, 2], evidence=f"Pages 2 and 3. {calc}")


def test_reasoning_recomputed_from_operands():
    calc = "calc: difference(Northwind=4210; Southfield=2150)"
    assert "recomputed" in verify(_reasoning("2060", calc), DOC).checks_passed
    assert verify(_reasoning("-2060", calc), DOC).ok  # a difference may be asked either way round
    assert verify(_reasoning("2160", calc), DOC).checks_failed == ["recompute_mismatch"]
    assert verify(_reasoning("1.96", "calc: ratio(N=4210; S=2150)", "Float"), DOC).ok
    assert verify(_reasoning("Northwind", "calc: argmax(Northwind=4210; Southfield=2150)", "String"), DOC).ok
    assert "recompute_mismatch" in verify(_reasoning("Southfield", "calc: argmax(Northwind=4210; Southfield=2150)",
                                                     "String"), DOC).checks_failed
    assert verify(_reasoning("1", "calc: count_gt[3000](Northwind=4210; Southfield=2150)"), DOC).ok
    assert "operand_not_in_evidence" in verify(_reasoning("2000", "calc: difference(N=4150; S=2150)"),
                                               DOC).checks_failed
    # no operands recorded and none quoted: not machine-checkable (without a verifier model to agree)
    v = verify(_reasoning("2060", ""), DOC)
    assert v.checks_failed == ["no_calculation"] and "recomputed" not in v.checks_passed


def test_duplicates_with_a_deduper():
    d = Deduper()
    assert verify(_qa(), DOC, d).ok
    again = verify(_qa(question="According to page 2, how many tonnes of steel did the Northwind plant produce in 2019?"),
                   DOC, d)
    assert again.checks_failed == ["duplicate"]
    assert verify(replace(_qa(), doc_id="doc-b"), DOC, d).ok  # per document


def test_ocr_needle_target_checked():
    from random import Random

    from mmprolong.synth import make_ocr_needle
    qa = make_ocr_needle(DOC, Random(0))
    assert verify(qa, DOC).ok
    assert verify(replace(qa, answer=qa.answer + "x"), DOC).checks_failed == ["ocr_target_mismatch"]


def test_reasoning_without_calc_is_not_searched_for_a_fitting_pair():
    # 4,210 - 2,150 = 2,060 is quoted, but without a calc line naming its operands nothing is recomputed
    v = verify(replace(_reasoning("2060", ""), evidence="Page 2 gives 4,210 t and page 3 gives 2,150 t."), DOC)
    assert v.checks_failed == ["no_calculation"]  # no calculation a program can check, and no verifier to agree


def test_reasoning_operand_pages_are_checked():
    ok = "calc: difference(Northwind@p2=4210; Southfield@p3=2150)"
    assert verify(_reasoning("2060", ok), DOC).ok
    swapped = "calc: difference(Northwind@p3=4210; Southfield@p2=2150)"   # each value is on the other page
    assert "operand_not_in_evidence" in verify(_reasoning("2060", swapped), DOC).checks_failed


def test_section_named_without_its_number_or_quotes():
    q = "In the Production section, what is the 2020 value for Southfield in Table 1?"
    assert verify(_qa(question=q, answer="2300", evidence_pages=[3], evidence_sources=["Table"]), DOC).ok
    q = "What is the 2020 value for Southfield in Table 1 of Production?"  # a heading word alone is no anchor
    assert "no_scope_anchor" in verify(_qa(question=q, answer="2300", evidence_pages=[3]), DOC).checks_failed


def test_text_checks_read_ocr_text_and_say_so():
    from mmprolong.synth import make_ocr_needle
    from random import Random

    from .docs import REPORT_PAGES, REPORT_SECTIONS, make_doc
    doc = make_doc(REPORT_PAGES, REPORT_SECTIONS)
    for p in doc.pages:
        p["text_source"] = "ocr" if p["page"] == 1 else "layer"
    v = verify(_qa(), doc)
    assert v.ok and "answer_in_evidence:ocr" in v.checks_passed
    assert "answer_not_in_evidence" in verify(_qa(answer="4310"), doc).checks_failed
    needle = make_ocr_needle(doc, Random(3))
    assert needle.evidence.startswith(("text layer", "OCR text")) and verify(needle, doc).ok
