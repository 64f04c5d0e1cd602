"""The pypdfium2 backend: open a PDF, classify why it can't be read, render pages to JPEG and read their text.

pdfium is fast and flat in memory but not thread safe, so one document is read by one process at a time
(`mmprolong.run` maps documents over processes). JPEG encoding (Pillow) is most of the cost per page.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .sections import PageHeadings, page_headings

_LOAD_ERRORS = {pdfium_c.FPDF_ERR_PASSWORD: "encrypted", pdfium_c.FPDF_ERR_FORMAT: "corrupt",
                pdfium_c.FPDF_ERR_FILE: "corrupt", pdfium_c.FPDF_ERR_UNKNOWN: "corrupt"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class PdfError(Exception):
    """A document that cannot be ingested; `kind` is its status in the docs table."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class RenderedPage:
    row: dict                 # the PAGES row (without doc_id)
    headings: PageHeadings    # heading candidates for the section heuristic
    scaled: bool = False      # rendered below the store's dpi to fit the pixel cap


def sniff(path: str | Path) -> None:
    """Raise PdfError("empty" | "not_pdf") for files that are not worth handing to pdfium."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head:
        raise PdfError("empty", "file is empty (0 bytes)")
    if b"%PDF-" not in head:
        raise PdfError("not_pdf", f"no %PDF- header in the first 1024 bytes (starts with {head[:16]!r})")


def open_pdf(path: str | Path) -> pdfium.PdfDocument:
    """Open a PDF or raise PdfError with the failure kind (encrypted, corrupt, empty, not_pdf)."""
    sniff(path)
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        raise PdfError(_LOAD_ERRORS.get(e.err_code, "corrupt"), f"pdfium could not open it: {e}") from None
    if len(pdf) == 0:
        pdf.close()
        raise PdfError("empty", "the PDF has no pages")
    return pdf


PLACEHOLDER_TITLES = {"untitled", "untitled document", "title", "document", "no title", "none"}


def metadata_title(pdf: pdfium.PdfDocument) -> str:
    """The metadata Title, unless it is a tool's placeholder ("untitled", "Microsoft Word - x.docx")."""
    try:
        title = " ".join((pdf.get_metadata_value("Title") or "").split())
    except pdfium.PdfiumError:
        return ""
    low = title.lower()
    if low in PLACEHOLDER_TITLES or low.startswith("microsoft word - ") or low.endswith((".doc", ".docx", ".pdf")):
        return ""
    return title


def clean_text(text: str) -> str:
    """pdfium's text layer with "\\n" line breaks and no control characters."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


DEFAULT_MAX_PAGE_PIXELS = 40_000_000   # ~160 MB of RGBX bitmap: a worker stays well under 1 GB on any page


def render_pages(pdf: pdfium.PdfDocument, dpi: int, jpeg_quality: int, headings: bool = True,
                 max_pixels: int | None = DEFAULT_MAX_PAGE_PIXELS) -> Iterator[RenderedPage]:
    """Yield each page in order: JPEG at `dpi`, size in points, text layer, and heading candidates (all pages
    when `headings`, else the first page only, for a title guess: the outline already gives the sections).
    A page that would exceed `max_pixels` at `dpi` is rendered scaled down to the cap (`RenderedPage.scaled`).
    A page pdfium cannot load (a recursive or absurdly deep page tree) is PdfError("corrupt"); memory running out
    is PdfError("out_of_memory")."""
    scale = dpi / 72.0
    for i in range(len(pdf)):
        try:
            page = pdf[i]
        except pdfium.PdfiumError as e:
            raise PdfError("corrupt", f"page {i}: cannot load the page: {e}") from None
        except MemoryError:
            raise PdfError("out_of_memory", f"page {i}: out of memory loading the page") from None
        width = height = 0.0
        s = scale
        try:
            width, height = page.get_size()
            if not (width > 0 and height > 0):
                raise PdfError("corrupt", f"page {i}: invalid page size {width} x {height} pt")
            if max_pixels and (width * s) * (height * s) > max_pixels:
                s = (max_pixels / (width * height)) ** 0.5
                while math.ceil(width * s) * math.ceil(height * s) > max_pixels:  # pdfium rounds sizes up
                    s *= 0.999
            # RGBX straight from pdfium: Pillow wraps the buffer without a copy and JPEG-encodes RGBX as is
            # (the default BGR bitmap costs a byte-order conversion: ~15% of a page's CPU time)
            bitmap = page.render(scale=s, rev_byteorder=True, prefer_bgrx=True)
            image = bitmap.to_pil()
            buf = io.BytesIO()
            image.save(buf, format="JPEG", quality=jpeg_quality)
            textpage = page.get_textpage()
            try:
                raw = textpage.get_text_range()
                heads = page_headings(textpage, raw) if headings or i == 0 else PageHeadings()
            finally:
                textpage.close()
            bitmap.close()
        except pdfium.PdfiumError as e:
            raise PdfError("corrupt", f"page {i}: {e}") from None
        except MemoryError:
            raise PdfError("out_of_memory", f"page {i}: out of memory rendering {width:.0f} x {height:.0f} pt "
                                            f"at {s * 72:.0f} dpi") from None
        finally:
            page.close()
        row = {"page": i, "width": float(width), "height": float(height), "image": buf.getvalue(),
               "image_width": image.width, "image_height": image.height, "text": clean_text(raw)}
        yield RenderedPage(row, heads, scaled=s < scale)
