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


def section_spans(doc: Document) -> list[Section]:
    """Sections as page spans: a section runs to the page before the next section (any level) starts."""
    secs = sorted(((int(s["first_page"]), str(s.get("heading") or "")) for s in doc.sections), key=lambda x: x[0])
    out = []
    for i, (first, heading) in enumerate(secs):
        nxt = secs[i + 1][0] if i + 1 < len(secs) else doc.n_pages
        out.append(Section(heading.strip(), first, max(first, nxt - 1)))
    return out


def unique_sections(doc: Document) -> list[Section]:
    """Sections whose heading names exactly one section (usable as a scope anchor)."""
    spans = [s for s in section_spans(doc) if len(norm(s.heading)) >= 3]
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
        for s in section_spans(doc):
            h = norm(s.heading).strip(" .:")
            bare = re.sub(r"^(?:\d+|[a-z])(?:\.\d+)*\.?\s+", "", h)  # "2.1 data sources" -> "data sources"
            for name in {h, bare}:
                if len(name) >= 3 and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", q):
                    found = True
                    pages.update(range(s.first, s.last + 1))
    return pages if found else None
