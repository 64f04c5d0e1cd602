"""Sections from the outline and from the heading heuristic, checked against the demo plans and a handmade PDF."""

from __future__ import annotations

from mmprolong.corpus.pdf import open_pdf, render_pages
from mmprolong.corpus.sections import (Line, PageHeadings, _classify, first_heading, heuristic_sections,
                                       outline_sections, start_scores)


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


def _outlined_manual(path):
    """A 12-page manual with an outline: a contents page (leaders of every length, "title page" entries), a clock
    diagram and a chip diagram drawn in large type, figure captions, and the true headings the outline names."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    from .conftest import BODY

    c = Canvas(str(path), pagesize=letter, invariant=1)
    w, h = letter
    chapters = {2: "1 Installation", 4: "2 Configuration", 7: "3 Troubleshooting", 10: "Appendix D Reference"}
    subs = {5: "2.1 Network Settings", 8: "3.1 Common Errors"}

    def body(y, n=10):
        c.setFont("Helvetica", 10)
        for k in range(n):
            c.drawString(72, y - 14 * k, BODY)

    c.setFont("Helvetica-Bold", 24)
    c.drawString(72, h - 90, "Widget Manual")
    body(h - 140)
    c.showPage()
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, h - 90, "Contents")
    for k, line in enumerate(["1 Installation 3", "2 Configuration . . . . 5", "2.1 Network Settings .. 6",
                              "3 Troubleshooting 8", "Appendix D Reference . . 11", "Getting Help 12",
                              "Glossary 12"]):
        c.drawString(72, h - 130 - 24 * k, line)
    c.showPage()
    for p in range(2, 12):
        y = h - 90
        if p in chapters or p in subs:
            c.setFont("Helvetica-Bold", 16 if p in chapters else 13)
            c.drawString(72, y, chapters.get(p) or subs[p])
            c.bookmarkPage(f"p{p}")
            c.addOutlineEntry(chapters.get(p) or subs[p], f"p{p}", level=0 if p in chapters else 1)
        body(y - 30)
        if p == 3:     # a clock face and a chip pin-out drawn in large type
            c.setFont("Helvetica-Bold", 18)
            for k, label in enumerate(["XI XII I", "OOOOOO A0", "IX III", "A B C D"]):
                c.drawString(150, 300 - 30 * k, label)
            c.setFont("Helvetica-Bold", 13)
            c.drawString(72, 150, "Figure 3 Wiring Diagram")
        c.showPage()
    c.save()
    return path


def test_heuristic_against_the_outline_skips_contents_and_diagram_labels(tmp_path):
    pdf, heads = _heads(_outlined_manual(tmp_path / "manual.pdf"), dpi=36)
    truth = outline_sections(pdf)
    pdf.close()
    assert [(s["first_page"], s["level"]) for s in truth] == [(2, 0), (4, 0), (5, 1), (7, 0), (8, 1), (10, 0)]
    found = heuristic_sections(heads)
    texts = {s["heading"] for s in found}
    assert not texts & {"XI XII I", "OOOOOO A0", "IX III", "A B C D", "Figure 3 Wiring Diagram"}
    assert not any(s["first_page"] == 1 for s in found)                     # nothing from the contents page
    assert start_scores(found, truth) == (1.0, 1.0)
    assert {s["first_page"]: s["level"] for s in found} == {2: 0, 4: 0, 5: 1, 7: 0, 8: 1, 10: 0}


def test_contents_lines_and_labels_are_not_headings():
    for line in ("1 Installation 2", "Appendix D . . 35", "Appendix D ... . . 35", "3.2 Results .. 14",
                 "Preface vii", "OOOOOO A0", "XI XII I", "Figure 4 Block diagram", "Table 2: Sales"):
        assert _classify(line) is None, line
    assert _classify("Appendix B") == ("keyword", 0) and _classify("Part IV") == ("keyword", 0)
    assert start_scores([{"first_page": 1}, {"first_page": 4}], [{"first_page": 4}, {"first_page": 9}]) == (0.5, 0.5)
