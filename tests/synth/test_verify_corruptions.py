"""Each way a plausible wrong item was waved through, on a real PDF (tests/synth/manual.py), rejected by the rule
checks alone with its reason; the right item beside it kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mmprolong.synth import verify
from mmprolong.synth.calc import calc_line
from mmprolong.synth.record import QARecord

from .manual import read_manual, write_manual


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    return read_manual(write_manual(tmp_path_factory.mktemp("manual") / "manual.pdf"))


def _qa(question, answer, pages, fmt="Integer", task="extract-single", evidence="", sources=("Text",)):
    return QARecord(doc_id="manual", task=task, segment=(0, 6), question=question, answer=answer,
                    answer_format=fmt, evidence_pages=list(pages), evidence_sources=list(sources),
                    evidence=evidence, generator="test")


def _fails(qa, doc, **kw):
    return verify(qa, doc, **kw).checks_failed


PACKAGES = _qa("On page 2, how many packages did the build farm compile in 2021?", "1250", [1])
WINDOWS = _qa("According to Table 1 on page 3, what is the 2020 value for Windows?", "310", [2], sources=["Table"])
CACHE = _qa("On page 4, how many entries does the cache hold by default?", "64", [3])
SUBSECTIONS = _qa('How many subsections does the section "2 Performance" have?', "3", [3, 4, 5], task="reasoning",
                  sources=["Layout"],
                  evidence=calc_line("count_named", [("2.1 Memory", 1), ("2.2 Threads", 1), ("2.3 Disk", 1)],
                                     pages=[4, 5, 6]))
FIGURES = _qa("How many numbered figures are there on pages 5-6?", "2", [4, 5], task="reasoning",
              sources=["Figure"], evidence=calc_line("count", [("Figure 1", 1), ("Figure 2", 2)], pages=[5, 6]))
FALL = _qa("According to Table 1 on page 3, by how many seconds did the Windows build time fall from 2019 to 2021?",
           "40", [2], task="reasoning", sources=["Table"],
           evidence=calc_line("difference", [("Windows 2019", 340), ("Windows 2021", 300)], pages=[3, 3]))
RATIO = _qa("According to Table 1 on page 3, what is the ratio of the 2021 value for Linux to the 2021 value for "
            "Windows? Round to two decimal places.", "0.32", [2], fmt="Float", task="reasoning", sources=["Table"],
            evidence=calc_line("ratio", [("Linux 2021", 95), ("Windows 2021", 300)], pages=[3, 3]))
HEADING = _qa("What is the heading of the section that begins on page 5?", "2.2 Threads", [4], fmt="String",
              sources=["Layout"])


@pytest.mark.parametrize("qa", [PACKAGES, WINDOWS, CACHE, SUBSECTIONS, FIGURES, FALL, RATIO, HEADING],
                         ids=lambda q: q.question[:40])
def test_right_items_are_kept(doc, qa):
    v = verify(qa, doc)
    assert v.ok, v.checks_failed
    assert any(c.startswith(("answer_at_labels", "recounted_from_structure", "operands_at_labels",
                             "heading_matches_sections")) for c in v.checks_passed)


def test_another_value_of_the_same_page_and_line(doc):
    # 37 volunteers is printed on the same line as the 1,250 packages
    assert _fails(replace(PACKAGES, answer="37"), doc) == ["answer_not_at_labels"]
    assert _fails(replace(WINDOWS, answer="340"), doc) == ["answer_not_at_labels"]   # same row, 2019 column


def test_the_neighbouring_row(doc):
    assert _fails(replace(WINDOWS, answer="110"), doc) == ["answer_not_at_labels"]   # Linux, 2020
    assert _fails(replace(WINDOWS, answer="870"), doc) == ["answer_not_at_labels"]   # Hurd, 2020


def test_the_same_question_answered_from_another_page(doc):
    # page 6 says the large profile holds 128 entries; page 4 prints 128, but as the log's lines
    assert _fails(replace(CACHE, answer="128"), doc) == ["answer_not_at_labels"]


def test_off_by_one(doc):
    assert _fails(replace(PACKAGES, answer="1251"), doc) == ["answer_not_in_evidence"]
    assert _fails(replace(FALL, answer="41"), doc) == ["recompute_mismatch"]       # no relative slack any more


def test_cited_page_moved_to_the_next_page_where_the_answer_is_printed_too(doc):
    moved = replace(PACKAGES, question="On page 3, how many packages did the build farm compile in 2021?",
                    evidence_pages=[2])   # page 3 prints 1,250, as requests per hour
    assert _fails(moved, doc) == ["answer_not_at_labels"]


def test_value_at_the_labels_on_another_page_of_the_scope(doc):
    wide = replace(PACKAGES, question="On pages 2-5, how many packages did the build farm compile in 2021?")
    assert _fails(wide, doc) == ["ambiguous_in_scope"]   # page 5 says it again


def test_count_with_an_item_dropped_and_the_calc_adjusted(doc):
    dropped = replace(SUBSECTIONS, answer="2", evidence=calc_line("count_named", [("2.1 Memory", 1),
                                                                                   ("2.3 Disk", 1)], pages=[4, 6]))
    assert _fails(dropped, doc) == ["recount_mismatch"]
    fewer = replace(FIGURES, answer="1", evidence=calc_line("count", [("Figure 2", 2)], pages=[6]))
    assert _fails(fewer, doc) == ["recount_mismatch"]


def test_count_with_an_extra_word_of_the_page_and_the_calc_adjusted(doc):
    extra = replace(SUBSECTIONS, answer="4", evidence=calc_line(
        "count_named", [("2.1 Memory", 1), ("2.2 Threads", 1), ("2.3 Disk", 1), ("archive", 1)], pages=[4, 5, 6, 6]))
    assert _fails(extra, doc) == ["recount_mismatch"]   # "archive" is on page 6, but not a subsection


def test_reasoning_without_its_calc_and_a_wrong_answer(doc):
    # 110 - 95 = 15, two other numbers of the table: there is no search for a pair that fits
    assert _fails(replace(FALL, answer="15", evidence="Table 1 on page 3."), doc) == ["no_calculation"]


def test_only_the_cited_operands_are_recomputed(doc):
    # 0.37 = 110 / 300 (two numbers of the table); the cited operands give 0.32
    assert _fails(replace(RATIO, answer="0.37"), doc) == ["recompute_mismatch"]
    # an operand cited under a label it is not printed at (Hurd's 900 called Windows 2019)
    wrong = replace(FALL, answer="600", evidence=calc_line("difference", [("Windows 2019", 900),
                                                                          ("Windows 2021", 300)], pages=[3, 3]))
    assert _fails(wrong, doc) == ["operand_not_at_labels"]


def test_heading_checked_against_the_section_starts(doc):
    # "2.3 Disk" is printed on page 5 (a cross-reference), but the section beginning there is "2.2 Threads"
    assert _fails(replace(HEADING, answer="2.3 Disk"), doc) == ["heading_mismatch"]


def test_evidence_page_with_no_text_is_unchecked(doc):
    blank = replace(doc, pages=[dict(p, text="", text_source="none") if p["page"] == 1 else p for p in doc.pages])
    assert _fails(PACKAGES, blank) == ["unchecked_by_rules"]
    assert _fails(FALL, replace(doc, pages=[dict(p, text_source="none") if p["page"] == 2 else p
                                            for p in doc.pages])) == ["unchecked_by_rules"]


@pytest.mark.parametrize("question, answer, fmt, page, reason", [
    ("On page 4, which step number comes before the words Run the setup?", "2", "Integer", 3, "list_numbering"),
    ('On page 4, what number fills the blank in the sentence "The format follows the standard convention ___ used '
     'elsewhere."?', "4", "Integer", 3, "footnote_marker"),
    ("On page 6, what number is printed at the foot of the page?", "6", "Integer", 5, "page_number"),
    ("On page 3, what is the title printed above the table of build times?", "Widget Toolkit Manual", "String", 2,
     "running_header"),
    ("On page 1, under which licence may the document be copied?", "GNU Free Documentation License", "String", 0,
     "boilerplate"),
])
def test_degenerate_answers_are_refused_with_their_reason(doc, question, answer, fmt, page, reason):
    assert _fails(_qa(question, answer, [page], fmt=fmt), doc) == [reason]
