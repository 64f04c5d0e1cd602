"""Small PDFs made here with reportlab, with exactly known text, headings and sizes (the demo corpus and the
broken files come from tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

KNOWN_SENTENCE = "The quick brown fox jumps over the lazy dog near the Kestrel plant."
BODY = ("Operations continued through the year with steady output at every site and no major incident "
        "recorded by the safety office.")


def make_handmade_pdf(path: Path, title: str | None = None) -> Path:
    """3 letter-size pages, no outline: a big title line, numbered / keyword headings, body text, a table."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), pagesize=letter, invariant=1)
    if title:
        c.setTitle(title)
    w, h = letter

    def body(y: float, n: int = 12) -> None:
        c.setFont("Helvetica", 10)
        for k in range(n):
            c.drawString(72, y - 14 * k, BODY)

    c.setFont("Helvetica-Bold", 24)
    c.drawString(72, h - 90, "Handmade Test Document")
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, h - 140, "Chapter 1 Overview")
    c.setFont("Helvetica", 10)
    c.drawString(72, h - 170, KNOWN_SENTENCE)
    body(h - 190)
    c.showPage()
    c.setFont("Helvetica-Bold", 13)
    c.drawString(72, h - 90, "2.1 Results by Region")
    body(h - 120, 6)
    c.setFont("Helvetica", 10)
    for k, (region, value) in enumerate([("Region", "Sales"), ("North", "1,204"), ("South", "987")]):
        c.drawString(72, h - 240 - 14 * k, region)
        c.drawString(200, h - 240 - 14 * k, value)
    c.showPage()
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, h - 90, "Appendix A Data Sources")
    body(h - 120)
    c.showPage()
    c.save()
    return path


@pytest.fixture(scope="session")
def handmade_pdf(tmp_path_factory) -> Path:
    return make_handmade_pdf(tmp_path_factory.mktemp("handmade") / "handmade.pdf")


@pytest.fixture
def corpus_dir(tmp_path, demo_pdfs, broken_pdfs, handmade_pdf) -> Path:
    """A folder like a real drop: demo PDFs in a subfolder, broken files, a byte-identical copy, a handmade PDF."""
    root = tmp_path / "drop"
    (root / "reports").mkdir(parents=True)
    for p in demo_pdfs[:3]:
        shutil.copy(p, root / "reports" / p.name)
    for kind, p in broken_pdfs.items():
        shutil.copy(p, root / p.name)
    shutil.copy(demo_pdfs[0], root / "zz_copy_of_first.pdf")
    shutil.copy(handmade_pdf, root / "handmade.pdf")
    return root
