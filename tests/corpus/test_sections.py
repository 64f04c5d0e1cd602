"""Sections from the outline and from the heading heuristic, checked against the demo plans and a handmade PDF."""

from __future__ import annotations

from mmprolong.corpus.pdf import open_pdf, render_pages
from mmprolong.corpus.sections import (Line, PageHeadings, _classify, first_heading, heuristic_sections,
                                       outline_sections)


def _heads(path, dpi=18):
    """The open PDF (caller closes) and its pages' heading candidates; text and sizes do not depend on dpi."""
    pdf = open_pdf(path)
    return pdf, [p.headings for p in render_pages(pdf, dpi, 50)]


def _tuples(sections):
    return [(s["first_page"], s["level"], s["heading"]) for s in sections]


def test_outline_gives_the_planned_sections(demo_pdfs, demo_plans):
    plan = demo_plans[0]
    assert plan.has_outline
    pdf = open_pdf(demo_pdfs[0])
    assert _tuples(outline_sections(pdf)) == [tuple(s) for s in plan.sections]
    pdf.close()


def test_heuristic_finds_the_planned_sections_without_outline(demo_pdfs, demo_plans):
    plan, path = demo_plans[-1], demo_pdfs[-1]
    assert not plan.has_outline
    pdf, heads = _heads(path)
    assert outline_sections(pdf) == []
    pdf.close()
    # every numbered heading and the Preface, with levels; no title page, contents entries or running heads
    assert _tuples(heuristic_sections(heads)) == [tuple(s) for s in plan.sections]


def test_heuristic_on_handmade_pdf(handmade_pdf):
    pdf, heads = _heads(handmade_pdf, dpi=36)
    pdf.close()
    assert _tuples(heuristic_sections(heads)) == [(0, 0, "Chapter 1 Overview"), (1, 1, "2.1 Results by Region"),
                                                  (2, 0, "Appendix A Data Sources")]
    assert first_heading(heads) == "Handmade Test Document"


def test_line_classification():
    assert _classify("3.2 Results") == ("numbered", 1)
    assert _classify("4. Methods") == ("numbered", 0)
    assert _classify("Chapter 7") == ("keyword", 0)
    assert _classify("Executive Summary") == ("plain", 0)
    assert _classify("1 Introduction .......... 1") is None          # a contents entry
    assert _classify("Contents") is None
    assert _classify("This sentence is body text that ends with a period.") is None
    assert _classify("2019 2020 2021") is None


def test_repeated_lines_are_running_heads_not_sections():
    big = Line("Quarterly Review", 16.0, "plain", 0)
    pages = [PageHeadings([big], [10.0] * 50) for _ in range(8)]
    pages[3].candidates.append(Line("5 Outlook", 16.0, "numbered", 0))
    assert _tuples(heuristic_sections(pages)) == [(3, 0, "5 Outlook")]


def test_without_font_sizes_only_numbered_headings_count():
    pages = [PageHeadings([Line("Results", 0.0, "plain", 0), Line("2 Results", 0.0, "numbered", 0)], [])]
    assert _tuples(heuristic_sections(pages)) == [(0, 0, "2 Results")]


def test_running_heads_with_page_numbers_are_not_sections():
    pages = [PageHeadings([Line(f"{k} THE WIDGET PACKAGE", 12.0, "numbered", 0)], [10.0] * 50) for k in range(1, 9)]
    pages[2].candidates.append(Line("3 Implementation", 12.0, "numbered", 0))
    assert _tuples(heuristic_sections(pages)) == [(2, 0, "3 Implementation")]


def test_uniform_font_sizes_fall_back_to_numbering():
    # a producer that sets every glyph in 1-pt text scaled by the matrix: pdfium reports size 1 everywhere
    pages = [PageHeadings([Line("Overview", 1.0, "plain", 0), Line("3.1 Method", 1.0, "numbered", 1)], [1.0] * 40)]
    assert _tuples(heuristic_sections(pages)) == [(0, 1, "3.1 Method")]
