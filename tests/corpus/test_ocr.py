"""OCR at ingest: a scanned PDF (born-digital pages rendered to an image-only PDF, made here) gets OCR text with its
words; born-digital pages keep their text layer; old stores without `text_source` still read."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pypdfium2 as pdfium
import pytest
from PIL import Image

from mmprolong import schema
from mmprolong.corpus import ocr
from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.store import PageStore

from .conftest import KNOWN_SENTENCE, make_handmade_pdf


def scanned_copy(src: Path, dst: Path, dpi: int = 150) -> Path:
    """Every page of `src` rendered to an image, the images saved as a PDF with no text layer (what a scanner
    gives)."""
    pdf = pdfium.PdfDocument(str(src))
    images = [pdf[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(pdf))]
    pdf.close()
    images[0].save(dst, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return dst


def _words(s: str) -> set[str]:
    return {w.strip(".,").lower() for w in s.split()}


def test_text_usable():
    assert not ocr.text_usable("")
    assert not ocr.text_usable("  \n 12 ")
    assert not ocr.text_usable("\ufffd\ufffd\ufffd ab cd ef \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")
    assert ocr.text_usable(KNOWN_SENTENCE)
    assert ocr.needs_ocr("", "auto") and not ocr.needs_ocr(KNOWN_SENTENCE, "auto")
    assert ocr.needs_ocr(KNOWN_SENTENCE, "force") and not ocr.needs_ocr("", "off")
    with pytest.raises(ValueError, match="ocr"):
        ocr.needs_ocr("", "always")
    with pytest.raises(ValueError, match="ocr"):
        IngestConfig(ocr="always")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ocr")
    born = make_handmade_pdf(tmp / "born.pdf")
    scan = scanned_copy(born, tmp / "scan.pdf")
    out = {}
    for name, mode in (("auto", "auto"), ("off", "off")):
        ingest([str(born), str(scan)], tmp / name, IngestConfig(dpi=100, workers=1, ocr=mode, progress=False))
        st = PageStore(tmp / name)
        out[name] = {Path(d.source).stem: d for d in st.iter_documents(with_images=False)}
    return out


def test_scanned_pdf_gets_ocr_text(stores):
    scan, born = stores["auto"]["scan"], stores["auto"]["born"]
    assert [p["text_source"] for p in scan.pages] == ["ocr"] * 3
    assert [p["text_source"] for p in born.pages] == ["layer"] * 3   # a usable layer is kept, never OCR'd
    got = _words(scan.pages[0]["text"])
    want = _words(KNOWN_SENTENCE + " Handmade Test Document Chapter 1 Overview")
    assert len(want & got) >= 0.9 * len(want), (want - got)
    layer = _words(born.pages[2]["text"])
    assert len(layer & _words(scan.pages[2]["text"])) >= 0.9 * len(layer)


def test_ingest_report_counts_ocr_pages(stores):
    from mmprolong.corpus.report import write_report

    root = Path(stores["auto"]["scan"].source).parent / "auto"   # the store beside the PDFs
    md, _ = write_report(root)
    assert "page text from: layer 3, ocr 3" in md.read_text()


def test_ocr_off_leaves_scans_empty(stores):
    scan = stores["off"]["scan"]
    assert all(not (p["text"] or "").strip() and p["text_source"] == "layer" for p in scan.pages)


def test_a_store_written_before_text_source_still_reads(tmp_path):
    old = pa.schema([f for f in schema.PAGES if f.name != "text_source"])
    (tmp_path / "docs").mkdir()
    (tmp_path / "pages").mkdir()
    pq.write_table(pa.Table.from_pylist([{"doc_id": "d", "source": "d.pdf", "n_pages": 1, "status": "ok"}],
                                        schema=schema.DOCS), tmp_path / "docs" / "part-00000.parquet")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    pq.write_table(pa.Table.from_pylist([{"doc_id": "d", "page": 0, "text": "old text", "image": buf.getvalue()}],
                                        schema=old), tmp_path / "pages" / "part-00000.parquet")
    st = PageStore(tmp_path)
    assert st.document("d").pages[0]["text_source"] is None
    assert next(st.iter_documents()).pages[0]["text"] == "old text"


STROKES = {"F": [(0, 0, 0, 4), (0, 4, 3, 4), (0, 2, 2, 2)], "I": [(1, 0, 1, 4), (0, 0, 2, 0), (0, 4, 2, 4)],
           "L": [(0, 0, 0, 4), (0, 0, 3, 0)], "E": [(0, 0, 0, 4), (0, 4, 3, 4), (0, 2, 2, 2), (0, 0, 3, 0)],
           "T": [(1.5, 0, 1.5, 4), (0, 4, 3, 4)], "H": [(0, 0, 0, 4), (3, 0, 3, 4), (0, 2, 3, 2)]}


def figure_pages_pdf(path: Path) -> Path:
    """Born-digital pages without a text layer, as manuals have them: a vector figure (a plot and labels drawn as
    strokes, which OCR can read: "FILE TILE LIFT"), and a small raster image on an otherwise empty page."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), pagesize=letter)
    for k in range(30):                      # a plot: grid lines, bars, a curve
        c.line(72, 100 + 8 * k, 540, 100 + 8 * k)
        c.rect(80 + 15 * k, 110, 9, 10 + 9 * (k % 13), fill=1)
    c.bezier(72, 400, 200, 500, 400, 300, 540, 400)
    c.setLineWidth(4)
    for row, word_line in enumerate(("FILE TILE", "LIFT HILT")):
        x = 90
        for ch in word_line:
            for x0, y0, x1, y1 in STROKES.get(ch, []):
                c.line(x + 9 * x0, 640 - 70 * row + 9 * y0, x + 9 * x1, 640 - 70 * row + 9 * y1)
            x += 42
    c.showPage()
    icon = Image.new("RGB", (120, 90), (200, 60, 40))
    c.drawImage(ImageReader(icon), 250, 400, width=120, height=90)   # ~2% of the page
    c.showPage()
    c.save()
    return path


def test_only_a_page_that_is_one_raster_image_counts_as_scanned(tmp_path):
    from mmprolong.corpus.pdf import image_cover, looks_scanned

    figures = figure_pages_pdf(tmp_path / "figures.pdf")
    scan = scanned_copy(make_handmade_pdf(tmp_path / "born.pdf"), tmp_path / "scan.pdf")
    looks = {}
    for name, path in (("figures", figures), ("scan", scan)):
        pdf = pdfium.PdfDocument(str(path))
        looks[name] = []
        for i in range(len(pdf)):
            page = pdf[i]
            w, h = page.get_size()
            looks[name].append((round(image_cover(page, w, h), 2), looks_scanned(page, w, h, "")))
        pdf.close()
    assert looks["figures"][0] == (0.0, False) and looks["figures"][1][0] < 0.05 and not looks["figures"][1][1]
    assert all(cover >= 0.99 and scanned for cover, scanned in looks["scan"])
    pdf = pdfium.PdfDocument(str(scan))   # a usable text layer is never a scan, whatever the images
    page = pdf[0]
    assert not looks_scanned(page, *page.get_size(), KNOWN_SENTENCE)
    pdf.close()


def test_figure_pages_without_text_are_not_ocrd(tmp_path):
    """`--ocr auto`: the vector figure and the small-image page keep their empty layer (OCR would have read the
    figure's stroked labels, see the assertion on `ocr_image`); scanned pages are OCR'd
    (test_scanned_pdf_gets_ocr_text)."""
    figures = figure_pages_pdf(tmp_path / "figures.pdf")
    ingest([str(figures)], tmp_path / "s", IngestConfig(dpi=100, workers=1, ocr="auto", progress=False))
    doc = next(PageStore(tmp_path / "s").iter_documents(with_images=True))
    assert [(p["text_source"], p["text"]) for p in doc.pages] == [("layer", ""), ("layer", "")]
    assert {"FILE", "TILE"} & set(ocr.ocr_image(doc.pages[0]["image"]).split())   # what OCR would have paid for
