"""Segment choice: the pages a teacher sees for one question (the paper: consecutive sections over 8-15 pages)."""

from __future__ import annotations

import random

from ..corpus.store import Document
from .tasks import section_spans


def choose_segment(doc: Document, rng: random.Random, min_pages: int = 8, max_pages: int = 15) -> tuple[int, int]:
    """(first, last) 0-based inclusive pages.

    Prefers runs of consecutive whole sections spanning min..max pages (top-level sections first, then all levels);
    falls back to a random page window of min..max pages; a document shorter than min_pages is one whole segment.
    """
    if min_pages < 1 or max_pages < min_pages:
        raise ValueError(f"need 1 <= min_pages <= max_pages, got {min_pages}, {max_pages}")
    n = doc.n_pages or len(doc.pages)
    if n <= 0:
        raise ValueError(f"document {doc.doc_id} has no pages")
    if n <= min_pages:
        return (0, n - 1)
    for spans in _section_levels(doc):
        cands = _section_runs(spans, min_pages, max_pages, n)
        if cands:
            return rng.choice(cands)
    length = rng.randint(min_pages, min(max_pages, n))
    first = rng.randint(0, n - length)
    return (first, first + length - 1)


def _section_levels(doc: Document) -> list[list[tuple[int, int]]]:
    """Span lists to try: top-level sections only, then every section; each list covers the pages it can."""
    levels = sorted({int(s.get("level") or 1) for s in doc.sections})
    out = []
    for lv in ([levels[0]] if levels else []) + [None]:
        secs = [s for s in doc.sections if lv is None or int(s.get("level") or 1) == lv]
        sub = Document(doc.doc_id, doc.source, doc.n_pages, doc.title, secs)
        spans = [(s.first, s.last) for s in section_spans(sub)]
        if spans and spans[0][0] > 0:
            spans.insert(0, (0, spans[0][0] - 1))  # front matter before the first heading
        if spans and spans not in [o for o in out]:
            out.append(spans)
    return out


def _section_runs(spans: list[tuple[int, int]], lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    runs = []
    for i in range(len(spans)):
        first = spans[i][0]
        for j in range(i, len(spans)):
            last = min(spans[j][1], n - 1)
            size = last - first + 1
            if size > hi:
                break
            if size >= lo:
                runs.append((first, last))
    return runs
