"""OCR baselines (the paper's weaker training targets): transcribe all pages, or 1-3 named pages among the rest."""

from __future__ import annotations

import random
import re

from ..corpus.store import Document
from .base import GenerationError
from .record import QARecord
from .tasks import pages_phrase


def page_text(doc: Document, page: int) -> str:
    for p in doc.pages:
        if int(p["page"]) == page:
            t = (p.get("text") or "").replace("\r\n", "\n")
            t = "\n".join(ln.rstrip() for ln in t.split("\n"))
            return re.sub(r"\n{3,}", "\n\n", t).strip()
    raise KeyError(f"page {page} not in document {doc.doc_id}")


def text_source(doc: Document, page: int) -> str:
    """Where a page's text came from: "layer" (the PDF's text layer) or "ocr" (corpus/ocr.py at ingest); pages of
    stores written before the column existed are "layer"."""
    for p in doc.pages:
        if int(p["page"]) == page:
            return p.get("text_source") or "layer"
    raise KeyError(f"page {page} not in document {doc.doc_id}")


def sources_phrase(doc: Document, pages: list[int]) -> str:
    """"text layer", "OCR text" or "text layer and OCR text" of these pages."""
    src = {text_source(doc, p) for p in pages}
    return " and ".join(n for s, n in (("layer", "text layer"), ("ocr", "OCR text")) if s in src) or "text layer"


def ocr_full_target(doc: Document, pages: list[int]) -> str:
    """Transcription target: each page's text layer under a `### Page N` marker (1-based document page)."""
    return "\n\n".join(f"### Page {p + 1}\n{page_text(doc, p)}" for p in pages)


def make_ocr_needle(doc: Document, rng: random.Random, n_pages: tuple[int, int] = (1, 3)) -> QARecord:
    """Ask for the transcription of 1-3 random pages that have text; the answer is their text (the layer, or the
    OCR text of a scanned page: the evidence description says which)."""
    with_text = [int(p["page"]) for p in doc.pages if (p.get("text") or "").strip()]
    if not with_text:
        raise GenerationError("no_text_layer", doc.doc_id)
    k = rng.randint(max(1, n_pages[0]), max(1, min(n_pages[1], len(with_text))))
    pages = sorted(rng.sample(with_text, k))
    q = (f"Transcribe the text of {pages_phrase(pages)} exactly, in order. "
         f"Start each page with a line '### Page N'.")
    return QARecord(doc_id=doc.doc_id, task="ocr-needle", segment=(pages[0], pages[-1]), question=q,
                    answer=ocr_full_target(doc, pages), answer_format="String", evidence_pages=pages,
                    evidence_sources=["Text"], evidence=f"{sources_phrase(doc, pages)} of {pages_phrase(pages)}",
                    generator="ocr")
