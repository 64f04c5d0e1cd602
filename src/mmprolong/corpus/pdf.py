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
import pypdfium2.internal as pdfium_i
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
    scan: bool = False        # no usable text layer and a raster image over most of the page (`looks_scanned`)


SCAN_IMAGE_COVER = 0.5   # a page whose images cover at least half its area, with no usable text, is a scan


def image_cover(page: pdfium.PdfPage, width: float, height: float) -> float:
    """Share of the page's area covered by its raster images (page level and inside form XObjects; areas added,
    capped at 1): a scanner's page is one image over the whole page (or a few strips), a born-digital figure is
    vector paths, text and at most small images."""
    total = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        total += max(0.0, right - left) * max(0.0, top - bottom)
    return min(1.0, total / (width * height))


def looks_scanned(page: pdfium.PdfPage, width: float, height: float, text: str) -> bool:
    """Whether OCR can pay on this page: its text layer is unusable (`ocr.text_usable`) and its content is
    essentially a raster image (`image_cover` >= SCAN_IMAGE_COVER). A born-digital page of vector figures, or of
    small images and little text, is not: OCR would find nothing the layer lacks, at seconds a page."""
    from .ocr import text_usable

    return not text_usable(text) and image_cover(page, width, height) >= SCAN_IMAGE_COVER


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


class _Bitmaps:
    """A `bitmap_maker` for `PdfPage.render` that renders every page of a document into one reused buffer (grown
    when a page needs more): a fresh zeroed ~7 MB buffer per A4 page at 144 DPI cost ~1 ms, a tenth of the
    render. Safe because a page's bitmap is encoded before the next page is rendered."""

    def __init__(self):
        self.buffer = None

    def __call__(self, width, height, format, rev_byteorder=False):
        import ctypes

        stride = width * pdfium_i.BitmapTypeToNChannels[format]
        need = stride * height
        if self.buffer is None or len(self.buffer) < need:
            self.buffer = (ctypes.c_ubyte * need)()
        return pdfium.PdfBitmap.new_native(width, height, format, rev_byteorder, buffer=self.buffer, stride=stride)


def render_pages(pdf: pdfium.PdfDocument, dpi: int, jpeg_quality: int, headings: bool = True,
                 max_pixels: int | None = DEFAULT_MAX_PAGE_PIXELS, classify: bool = False
                 ) -> Iterator[RenderedPage]:
    """Yield each page in order: JPEG at `dpi`, size in points, text layer, and heading candidates (all pages
    when `headings`, else the first page only, for a title guess: the outline already gives the sections).
    A page that would exceed `max_pixels` at `dpi` is rendered scaled down to the cap (`RenderedPage.scaled`).
    With `classify`, a page without a usable text layer is looked at for OCR (`RenderedPage.scan`, from the
    page's objects: `looks_scanned`). A page pdfium cannot load (a recursive or absurdly deep page tree) is
    PdfError("corrupt"); memory running out is PdfError("out_of_memory")."""
    scale = dpi / 72.0
    maker = _Bitmaps()
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
            bitmap = page.render(scale=s, rev_byteorder=True, prefer_bgrx=True, bitmap_maker=maker)
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
            scan = classify and looks_scanned(page, width, height, raw)
        except pdfium.PdfiumError as e:
            raise PdfError("corrupt", f"page {i}: {e}") from None
        except MemoryError:
            raise PdfError("out_of_memory", f"page {i}: out of memory rendering {width:.0f} x {height:.0f} pt "
                                            f"at {s * 72:.0f} dpi") from None
        finally:
            page.close()
        row = {"page": i, "width": float(width), "height": float(height), "image": buf.getvalue(),
               "image_width": image.width, "image_height": image.height, "text": clean_text(raw)}
        yield RenderedPage(row, heads, scaled=s < scale, scan=scan)
