"""Segment choice: the pages a teacher sees for one question (the paper: consecutive sections over 8-15 pages)."""

from __future__ import annotations

import random
from typing import Collection

from ..corpus.store import Document
from .tasks import section_level, section_spans

WINDOW_DRAWS = 8   # random page windows drawn to find one not in `avoid`


def choose_segment(doc: Document, rng: random.Random, min_pages: int = 8, max_pages: int = 15,
                   avoid: Collection[tuple[int, int]] = ()) -> tuple[int, int]:
    """(first, last) 0-based inclusive pages.

    Prefers runs of consecutive whole sections spanning min..max pages at the coarsest level that has such runs
    (top-level sections only, then levels 0-1, ..., then every section); falls back to a random page window of
    min..max pages; a document shorter than min_pages is one whole segment. Segments in `avoid` (already tried for
    this slot) are not chosen again while another one is possible.
    """
    if min_pages < 1 or max_pages < min_pages:
        raise ValueError(f"need 1 <= min_pages <= max_pages, got {min_pages}, {max_pages}")
    n = doc.n_pages or len(doc.pages)
    if n <= 0:
        raise ValueError(f"document {doc.doc_id} has no pages")
    if n <= min_pages:
        return (0, n - 1)
    avoid = set(avoid)
    for spans in _section_levels(doc):
        cands = [c for c in _section_runs(spans, min_pages, max_pages, n) if c not in avoid]
        if cands:
            return rng.choice(cands)
    seg = (0, n - 1)
    for _ in range(WINDOW_DRAWS):
        length = rng.randint(min_pages, min(max_pages, n))
        first = rng.randint(0, n - length)
        seg = (first, first + length - 1)
        if seg not in avoid:
            break
    return seg


def _section_levels(doc: Document) -> list[list[tuple[int, int]]]:
    """Span lists to try, coarsest first: sections of level <= L for each level L of the outline; each list covers
    the pages it can (a section runs to the next section of the list)."""
    levels = sorted({section_level(s) for s in doc.sections})
    out: list[list[tuple[int, int]]] = []
    for lv in levels:
        firsts: dict[int, dict] = {}   # one section per start page (a chapter and its first subsection share it)
        for s in doc.sections:
            if section_level(s) <= lv:
                firsts.setdefault(int(s["first_page"]), s)
        secs = list(firsts.values())
        sub = Document(doc.doc_id, doc.source, doc.n_pages, doc.title, secs)
        spans = [(s.first, s.last) for s in section_spans(sub)]
        if spans and spans[0][0] > 0:
            spans.insert(0, (0, spans[0][0] - 1))  # front matter before the first heading
        if spans and spans not in out:
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
