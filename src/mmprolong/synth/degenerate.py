"""Answers that are printed on the page but answer nothing: list numbering, footnote markers, page numbers, running
headers and footers, and boilerplate (licences, copyright lines) that many documents share, so that a model could
answer without reading this one. Each is refused with its own reason."""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Iterable

from ..corpus.store import Document
from .rules import _running_key, running_lines
from .text import clean, norm, parse_number

REASONS = ("list_numbering", "footnote_marker", "page_number", "running_header", "boilerplate")
EDGE = 2            # lines at the top and bottom of a page where page numbers and running lines sit
SMALL = 99          # list numbers and footnote markers are small integers
SHARED_DOCS = 3     # a line printed in this many documents of a store is boilerplate

_PAGE_LINE = re.compile(r"(?:page\s+)?\d{1,4}(?:\s+of\s+\d+)?", re.I)
_LICENCE = re.compile(r"\b(?:gnu (?:free documentation|general public|lesser general public) licen[cs]e|"
                      r"permission is granted to (?:copy|make)|all rights reserved|creative commons|"
                      r"free software foundation|without any warranty|copyright (?:©|\(c\)|\d{4})|©\s*\d{4}|"
                      r"licensed under|this (?:document|manual|program) is free software|"
                      r"merchantability|fitness for a particular purpose|verbatim copies)", re.I)


@functools.lru_cache(maxsize=4096)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(clean(x).strip() for x in (text or "").splitlines() if x.strip())


def _occurs(line: str, answer: str) -> bool:
    v = parse_number(answer)
    if v is not None:
        return any(float(m.replace(",", "")) == v for m in re.findall(r"\d[\d,]*(?:\.\d+)?", line))
    a = norm(answer)
    return bool(a) and a in norm(line)


def reason(answer: str, texts: list[str], doc: Document, shared: frozenset[str] = frozenset(),
           in_sentence: bool = False) -> str | None:
    """Why `answer`, read on the pages `texts`, is degenerate; None when it is not. `in_sentence`: the answer was
    found inside a sentence the question quotes (a blank), so not in a running line."""
    per_page = [_lines(t) for t in texts]
    hits = [(k, i, ln) for k, lines in enumerate(per_page) for i, ln in enumerate(lines) if _occurs(ln, answer)]
    if not hits:
        return None
    v = parse_number(answer)
    small = v is not None and v.is_integer() and 0 <= v <= SMALL
    running = running_lines(doc)

    def edge(k, i):
        return i < EDGE or i >= len(per_page[k]) - EDGE

    if not in_sentence and all(edge(k, i) and (_running_key(ln) in running or _PAGE_LINE.fullmatch(ln))
                               for k, i, ln in hits):
        return "page_number" if v is not None and all(_PAGE_LINE.fullmatch(ln) for _, _, ln in hits) \
            else "running_header"
    if small:
        n = int(v)
        enum = re.compile(rf"^\(?{n}[.)]?(?:\s|$)")
        sibling = re.compile(rf"^\(?(?:{n - 1}|{n + 1})[.)]?\s")
        if all(enum.match(ln) for _, _, ln in hits) and any(sibling.match(x) for lines in per_page for x in lines):
            return "list_numbering"
        glued = re.compile(rf"[a-z\u00e0-\u024f]{{3}}[.,;:]?{n}(?=\s|$)")
        note = re.compile(rf"^{n}\s+[A-Za-z\u00c0-\u024f]")
        after_word = re.compile(rf"[a-z\u00e0-\u024f]\s{n}(?:\s+[a-z\u00e0-\u024f]|\s*$|[.,;])")
        foot = any(note.match(x) for lines in per_page for x in lines[-6:])
        body = [ln for _, _, ln in hits if not note.match(ln) and not _PAGE_LINE.fullmatch(ln)]
        if body and all(glued.search(ln) or (foot and after_word.search(ln)) for ln in body):
            return "footnote_marker"
    if all(_LICENCE.search(ln) or _shared_key(ln) in shared for _, _, ln in hits):
        return "boilerplate"
    return None


def _shared_key(line: str) -> str:
    return re.sub(r"\d+", "#", norm(line))


def shared_lines(docs: Iterable[Document], min_docs: int | None = None) -> frozenset[str]:
    """Keys of lines (numbers aside) of four or more words printed in many documents of a store: licence blocks,
    copyright and publisher lines that answer a question without its document. Many: `min_docs`, by default a
    quarter of the documents, at least SHARED_DOCS and at most 20 (three layouts of one sample are not many)."""
    seen: Counter = Counter()
    docs = list(docs)
    if min_docs is None:
        min_docs = max(SHARED_DOCS, min(20, -(-len(docs) // 4)))
    for d in docs:
        keys = {_shared_key(ln) for p in d.pages for ln in _lines(p.get("text") or "") if len(ln.split()) >= 4}
        seen.update(keys)
    return frozenset(k for k, c in seen.items() if c >= min_docs)
