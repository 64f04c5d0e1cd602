"""Documents for synth tests, built directly from text pages (and real JPEGs from Pillow when asked)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from mmprolong.corpus.store import Document


def jpeg(w: int = 56, h: int = 80, color=(240, 240, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def make_doc(texts: list[str], sections: list[tuple[int, str]] | None = None, images: bool = False,
             doc_id: str = "doc-a") -> Document:
    pages = []
    for i, t in enumerate(texts):
        p = {"doc_id": doc_id, "page": i, "width": 595.0, "height": 842.0, "text": t,
             "image_width": 56, "image_height": 80}
        if images:
            p["image"] = jpeg(color=(200 + i % 50, 220, 240))
        pages.append(p)
    secs = [{"first_page": f, "level": 0, "heading": h} for f, h in (sections or [])]
    return Document(doc_id, f"{doc_id}.pdf", len(texts), "A test report", secs, pages)


REPORT_PAGES = [
    "Northwind Steel Group\nAnnual Report 2021",
    "1 Introduction\nThis report describes the operating record of the group over the period.\n"
    "The Northwind plant produced 4,210 tonnes of steel in 2019.",
    "The Southfield plant produced 2,150 tonnes of steel in 2019. Operations continued without interruption.\n"
    "Maria Okafor was appointed plant manager of the Southfield plant on 3 March 2018.",
    "2 Production\nTable 1: Output by plant (tonnes)\nPlant 2019 2020 2021\nNorthwind 4,210 3,900 3,700\n"
    "Southfield 2,150 2,300 2,480\nEastport 1,020 1,110 990",
    "The average wait time was 34 minutes at the Eastport depot. Revenue in 2020 was 12.5 million dollars.",
    "3 Workforce\nIn 2018, the company employed 1,240 workers across three sites.\n"
    "The Eastport plant reported a capacity utilisation of 71.5% in 2020.",
    "Staff turnover remained low and all sites met their training targets for the year.",
    "4 Outlook\nThe Northwind plant produced 3,900 tonnes of steel in 2020. The board expects stable demand.",
    "",
    "The Eastport plant produced 990 tonnes of steel in 2021. The outlook depends on energy prices.",
]
REPORT_SECTIONS = [(1, "1 Introduction"), (3, "2 Production"), (5, "3 Workforce"), (7, "4 Outlook")]


def report_doc(images: bool = False) -> Document:
    return make_doc(REPORT_PAGES, REPORT_SECTIONS, images=images)


def page_texts(path: Path) -> list[str]:
    """pdfium's text layer of every page of a real PDF, line ends as the page store keeps them."""
    pdf = pdfium.PdfDocument(str(path))
    texts = []
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            texts.append(tp.get_text_range().replace("\r\n", "\n"))
            tp.close()
            page.close()
    finally:
        pdf.close()
    return texts


def pdf_documents(paths: list[Path], plans) -> list[Document]:
    """Documents with the text layer pdfium reads from real PDFs, sections from the demo plans."""
    docs = []
    for path, plan in zip(paths, plans):
        pages = [{"doc_id": path.stem, "page": i, "text": t} for i, t in enumerate(page_texts(path))]
        secs = [{"first_page": f, "level": lv, "heading": h} for f, lv, h in plan.sections]
        docs.append(Document(path.stem, str(path), len(pages), plan.title, secs, pages))
    return docs
