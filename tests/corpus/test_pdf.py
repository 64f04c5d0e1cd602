"""The pypdfium2 backend on real PDFs: failure kinds, page size, JPEG, text layer."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mmprolong.corpus.pdf import PdfError, clean_text, metadata_title, open_pdf, render_pages

from .conftest import KNOWN_SENTENCE, make_handmade_pdf


@pytest.mark.parametrize("kind,expected", [("corrupt", "corrupt"), ("truncated", "corrupt"),
                                           ("encrypted", "encrypted"), ("empty", "empty"), ("not_pdf", "not_pdf")])
def test_unreadable_files_get_their_failure_kind(broken_pdfs, kind, expected):
    with pytest.raises(PdfError) as e:
        open_pdf(broken_pdfs[kind])
    assert e.value.kind == expected and str(e.value)


def test_pages_render_at_dpi_with_points_size_and_text(handmade_pdf):
    pdf = open_pdf(handmade_pdf)
    pages = list(render_pages(pdf, dpi=72, jpeg_quality=80))
    pdf.close()
    assert [p.row["page"] for p in pages] == [0, 1, 2]
    first = pages[0].row
    assert (first["width"], first["height"]) == (612.0, 792.0)           # letter, in points
    assert (first["image_width"], first["image_height"]) == (612, 792)   # 72 dpi: 1 px per point
    img = Image.open(io.BytesIO(first["image"]))
    assert img.format == "JPEG" and img.size == (612, 792)
    assert KNOWN_SENTENCE in first["text"] and "\r" not in first["text"]
    assert "North" in pages[1].row["text"] and "1,204" in pages[1].row["text"]


def test_dpi_scales_pixels(handmade_pdf):
    pdf = open_pdf(handmade_pdf)
    row = next(render_pages(pdf, dpi=144, jpeg_quality=90)).row
    pdf.close()
    assert (row["image_width"], row["image_height"]) == (1224, 1584)


def test_metadata_title_ignores_placeholders(tmp_path):
    pdf = open_pdf(make_handmade_pdf(tmp_path / "a.pdf"))  # reportlab's default title is "untitled"
    assert metadata_title(pdf) == ""
    pdf.close()
    pdf = open_pdf(make_handmade_pdf(tmp_path / "b.pdf", title="Annual Report 2020"))
    assert metadata_title(pdf) == "Annual Report 2020"
    pdf.close()


def test_clean_text():
    assert clean_text("a\r\nb\rc\x00\x02d") == "a\nb\ncd"


def test_rgbx_render_gives_the_same_jpeg_as_the_default_render(handmade_pdf):
    import pypdfium2 as pdfium

    pdf = open_pdf(handmade_pdf)
    ours = next(render_pages(pdf, dpi=50, jpeg_quality=90)).row["image"]
    default = io.BytesIO()
    pdfium.PdfDocument(str(handmade_pdf))[0].render(scale=50 / 72).to_pil().save(default, format="JPEG", quality=90)
    pdf.close()
    assert ours == default.getvalue()
