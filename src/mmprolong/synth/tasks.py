"""Task names, scope anchors and page-number wording.

Questions name their scope so they stay unambiguous once the segment is put back into the full document.
Pages in questions and prompts are 1-based DOCUMENT indices (the position in the PDF, which is what the model sees
when pages are fed in order), never the number printed on the page: printed numbers restart, use roman numerals or
are missing, so only the document index is checkable. Records store pages 0-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..corpus.store import Document
from .text import norm

QA_TASKS = ("extract-single", "extract-multi", "reasoning")
OCR_TASKS = ("ocr-full", "ocr-needle")
EXTRACTIVE = ("extract-single", "extract-multi")


def check_task(task: str) -> str:
    if task not in QA_TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(QA_TASKS)}")
    return task


def page_label(page0: int) -> str:
    """0-based stored page -> the 1-based document page number used in questions."""
    return str(page0 + 1)


def pages_phrase(pages0: list[int]) -> str:
    """'page 4', 'pages 4 and 9', 'pages 4, 6 and 9' (1-based)."""
    ps = [page_label(p) for p in sorted(set(pages0))]
    if len(ps) == 1:
        return f"page {ps[0]}"
    return f"pages {', '.join(ps[:-1])} and {ps[-1]}"


@dataclass(frozen=True)
class Section:
    heading: str
    first: int  # 0-based, inclusive
    last: int
    level: int = 0


def section_level(s: dict) -> int:
    """The outline's level, 0 = top (a section without one counts as top level)."""
    lv = s.get("level")
    return int(lv) if lv is not None else 0


def _ordered(doc: Document) -> list[tuple[int, str, int]]:
    """(first_page, heading, level) in document order; a chapter stays before the subsection that shares its page."""
    return [(int(s["first_page"]), str(s.get("heading") or "").strip(), section_level(s))
            for s in sorted(doc.sections, key=lambda s: int(s["first_page"]))]


def section_spans(doc: Document) -> list[Section]:
    """Sections as flat page spans: a section runs to the page before the next section (any level) starts.
    Consecutive and disjoint, which is what segment choice tiles."""
    secs = _ordered(doc)
    out = []
    for i, (first, heading, level) in enumerate(secs):
        nxt = secs[i + 1][0] if i + 1 < len(secs) else doc.n_pages
        out.append(Section(heading, first, max(first, nxt - 1), level))
    return out


def section_scopes(doc: Document) -> list[Section]:
    """Sections as a reader means them: a section holds its subsections, running to the page before the next
    section of the same or a higher level starts (to that page itself when one of its subsections starts there:
    the page is shared). What a question's "the section X" covers."""
    secs = _ordered(doc)
    out = []
    for i, (first, heading, level) in enumerate(secs):
        j = next((k for k in range(i + 1, len(secs)) if secs[k][2] <= level), len(secs))
        nxt = secs[j][0] if j < len(secs) else doc.n_pages
        shared = any(f == nxt for f, _, _ in secs[i + 1:j])   # one of its subsections starts on that page too
        out.append(Section(heading, first, max(first, nxt if shared else nxt - 1), level))
    return out


def subsections(doc: Document, scopes: list[Section] | None = None) -> list[tuple[Section, list[Section]]]:
    """Each section with its direct subsections (the next level down, inside its scope), in document order
    (`scopes`: `section_scopes(doc)` when the caller has them already)."""
    scopes = section_scopes(doc) if scopes is None else scopes
    out = []
    for i, s in enumerate(scopes):
        kids = []
        for t in scopes[i + 1:]:
            if t.level <= s.level:
                break
            if t.level == s.level + 1:
                kids.append(t)
        out.append((s, kids))
    return out


def unique_sections(doc: Document, scopes: list[Section] | None = None) -> list[Section]:
    """Sections whose heading names exactly one section (usable as a scope anchor), with their scopes."""
    spans = [s for s in (section_scopes(doc) if scopes is None else scopes) if len(norm(s.heading)) >= 3]
    counts: dict[str, int] = {}
    for s in spans:
        counts[norm(s.heading)] = counts.get(norm(s.heading), 0) + 1
    return [s for s in spans if counts[norm(s.heading)] == 1]


_PAGE_REF = re.compile(r"\bpages?\s+(\d+(?:\s*(?:-|to|through)\s*\d+)?(?:\s*(?:,|and|&)\s*\d+(?:\s*(?:-|to)\s*\d+)?)*)",
                       re.IGNORECASE)


def scope_pages(question: str, doc: Document) -> set[int] | None:
    """0-based pages the question's scope anchors cover (page refs and named sections); None: no anchor found."""
    q = norm(question)
    pages: set[int] = set()
    found = False
    for m in _PAGE_REF.finditer(q):
        found = True
        for part in re.split(r"\s*(?:,|and|&)\s*", m.group(1)):
            r = re.split(r"\s*(?:-|to|through)\s*", part.strip())
            if r and all(x.isdigit() for x in r):
                a, b = int(r[0]), int(r[-1])
                if b < a or b - a > 10_000:
                    continue
                pages.update(range(a - 1, b))
    if re.search(r"\b(?:section|chapter|part|appendix|annex)\b", q):
        for s in section_scopes(doc):
            h = norm(s.heading).strip(" .:")
            bare = re.sub(r"^(?:\d+|[a-z])(?:\.\d+)*\.?\s+", "", h)  # "2.1 data sources" -> "data sources"
            for name in {h, bare}:
                if len(name) >= 3 and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", q):
                    found = True
                    pages.update(range(s.first, s.last + 1))
    return pages if found else None
