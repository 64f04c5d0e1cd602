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
