"""Section starts of a document: from the PDF outline when it has one, else from heading-like lines.

Sections give the synthesis stage its segment boundaries (RECIPE: "titles and headings give section boundaries").
The heuristic reads pdfium's text layer and font sizes: a heading is a short line set larger than the body text
that looks like one ("2.3 Results", "Chapter 4", "Appendix B", or a short capitalised line), never a running
header or footer (small print, or the same line on many pages), never a contents entry (dot leaders of any length,
a title followed by a page number, or any line of a page that reads as a contents page) and never a figure or
diagram label (a caption, roman numerals or single letters only, a run of one repeated letter).
Levels are 0-based (0 = top), as in the PDF outline. `start_scores` measures starts against an outline.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+([A-Z][^\n]*)$")
KEYWORD = re.compile(r"^(?:chapter|part|section|appendix|annex)\s+(?:\d+|[IVXLC]+|[A-Z])\b", re.IGNORECASE)
FRONT_MATTER = {"contents", "table of contents", "list of figures", "list of tables"}
DOT_LEADER = re.compile(r"(?:\.\s*){2,}\s*(?:\d{1,4}|[ivxlc]{1,6})$|[…·]\s*\d{1,4}$|(?:\.\s){3,}")   # leaders, any length
TITLE_PAGE = re.compile(r"[A-Za-z][^\d]*\s\d{1,4}$")          # words, then a page number
ROMAN_PAGE = re.compile(r"[A-Za-z]\s+[ivxlc]{1,6}$")        # "Preface vii"
TOC_ENTRY = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z]\.|(?:chapter|part|appendix|annex)\s+\w+)\s+"
                       r"\D*[A-Za-z]\D*\s(?:\d{1,4}|[ivxlc]{1,6})$", re.IGNORECASE)   # "2.1 Network Settings 6"
BARE_KEYWORD = re.compile(r"^(?:chapter|part|section|appendix|annex)\s+\S+$", re.IGNORECASE)
CAPTION = re.compile(r"^(?:fig(?:ure)?|table|diagram|listing|chart|plate|exhibit|example)\.?\s*[\dA-Z]", re.IGNORECASE)
ROMAN = re.compile(r"^[IVXLCDM]+$")
TOC_LINES = 3            # a page with this many contents-like lines is a contents page: no plain line after the
                         # first entry counts (its heading, e.g. "Concept Index", comes before)
MAX_WORDS = 12
MAX_CHARS = 100


@dataclass
class Line:
    text: str
    size: float      # font size in points (0 when unknown)
    kind: str        # "numbered" | "keyword" | "plain"
    level: int       # from the numbering (plain: decided per document)


@dataclass
class PageHeadings:
    """What the heuristic needs from one page, gathered while the page is open."""

    candidates: list[Line] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)   # sampled font sizes of the page's characters


def _is_word(w: str) -> bool:
    """A word of language, not a label: letters (hyphens allowed), not one letter repeated ("OOOOOO", "A"), not an
    upper-case roman numeral ("XII"), 3+ letters or a capitalised pair ("Cd", "If")."""
    w = w.strip("()[]{}'\",;:!?").replace("-", "")
    if not w.isalpha() or len(set(w.lower())) == 1 or (w.isupper() and ROMAN.match(w)):
        return False
    return len(w) >= 3 or (len(w) == 2 and w[0].isupper() and w[1].islower())


SPACED_DOTS = re.compile(r"(?:\.\s){3,}")   # the one DOT_LEADER form that need not end the line
PAGE_END = frozenset("0123456789ivxlcIVXLC\u0130\u0131")   # how every other contents pattern ends (re.I)


def contents_like(text: str) -> bool:
    """A table-of-contents entry: dot leaders, or a numbered title followed by a page number (not "Chapter 4").
    Most lines of a page end otherwise than with a page number: for them one short search decides (the same
    answer as the full patterns, at a fraction of the cost: this runs on every line of every page)."""
    if text and text[-1] not in PAGE_END and text[-1] != "\n":
        return bool(SPACED_DOTS.search(text))
    return bool(DOT_LEADER.search(text)) or (bool(TOC_ENTRY.match(text) or ROMAN_PAGE.search(text))
                                             and not BARE_KEYWORD.match(text))


KEYWORDS = ("chapter", "part", "section", "appendix", "annex")


def _classify(text: str) -> tuple[str, int] | None:
    if not (2 <= len(text) <= MAX_CHARS):
        return None
    if not (text[0].isupper() or text[0].isdigit() or text[:8].lower().startswith(KEYWORDS)):
        return None   # neither numbered, nor a keyword, nor capitalised: no heading (the checks below agree)
    if len(text.split()) > MAX_WORDS or not re.search(r"[A-Za-z]{2}", text):
        return None
    if contents_like(text) or text[-1] in ".,;:" or text.lower() in FRONT_MATTER:
        return None
    if CAPTION.match(text) and not KEYWORD.match(text):   # "Figure 3", "Table 2: Sales": captions, not sections
        return None
    if not any(_is_word(w) for w in text.split()):     # "XI XII I", "OOOOOO A0", "A B C": diagram labels
        return None
    m = NUMBERED.match(text)
    if m:
        return "numbered", m.group(1).count(".")
    if KEYWORD.match(text):
        return "keyword", 0
    words = [w for w in text.split() if w[0].isalpha()]
    if text[0].isupper() and words and sum(w[0].isupper() for w in words) >= 0.5 * len(words) \
            and not re.search(r"\d{3,}", text):
        return "plain", 0
    return None


def _size(textpage: pdfium.PdfTextPage, index: int) -> float:
    return float(pdfium_c.FPDFText_GetFontSize(textpage.raw, index))


def page_headings(textpage: pdfium.PdfTextPage, raw: str) -> PageHeadings:
    """Heading candidates of one page with their font sizes, and a sample of the page's font sizes.

    `raw` is `textpage.get_text_range()`: one string index per pdfium character (line breaks included), so a
    line's offset in `raw` is its first character's index in the text page.
    """
    out = PageHeadings()
    n = textpage.count_chars()
    aligned = len(raw) == n
    if aligned and n:
        step = max(1, n // 100)
        out.sizes = [s for i in range(0, n, step) if not raw[i].isspace() and (s := _size(textpage, i)) > 0]
    offset = 0
    lines = raw.split("\n")
    toc = [k for k, ln in enumerate(lines) if contents_like(" ".join(ln.split()))]
    paged = [k for k, ln in enumerate(lines)   # "Customizing contents 28" (ends with a digit: skip the search else)
             if ln.rstrip()[-1:].isdigit() and TITLE_PAGE.search(ln.strip())]
    filled = sum(1 for ln in lines if ln.strip())
    if len(paged) >= TOC_LINES and len(paged) >= 0.5 * filled:   # most lines end with a page number
        toc = sorted(set(toc) | set(paged))
    else:
        paged = []
    entries_from = toc[0] if len(toc) >= TOC_LINES else len(lines)   # a contents or index page: its entries
    for k, line in enumerate(lines):
        start, offset = offset, offset + len(line) + 1
        text = " ".join(line.split())
        cls = _classify(text)
        if cls is None or (cls[0] == "plain" and (k > entries_from or k in paged)):   # contents entries
            continue
        size = 0.0
        if aligned:
            first = start + (len(line) - len(line.lstrip()))
            idx = [i for i in range(first, min(start + len(line), first + 40)) if not raw[i].isspace()]
            size = max((_size(textpage, i) for i in idx), default=0.0)
        out.candidates.append(Line(text, size, *cls))
    return out


def _running_key(text: str) -> str:
    return re.sub(r"[\d.]+", "#", text.lower())


def heuristic_sections(pages: list[PageHeadings]) -> list[dict]:
    """Section starts [{first_page, level, heading}] from the pages' heading candidates (see module doc)."""
    sizes = [s for p in pages for s in p.sizes]
    body = statistics.median(sizes) if sizes else 0.0
    if sizes and max(sizes) - min(sizes) < 0.01:  # one size everywhere (or a producer that scales 1-pt text):
        body = 0.0                                  # sizes say nothing, trust explicit numbering only
    picked: list[tuple[int, Line]] = []
    for page_no, p in enumerate(pages):
        for line in p.candidates:
            if body:
                need = 1.25 if line.kind == "plain" else 1.1
                if line.size < need * body or (line.kind == "plain" and page_no == 0):
                    continue
            elif line.kind == "plain":  # no font sizes: only explicit numbering is trusted
                continue
            picked.append((page_no, line))
    # running heads are not sections: the same line (page numbers aside) on many pages
    repeats = Counter(_running_key(line.text) for _, line in picked)
    many = max(3, len(pages) // 4)
    picked = [(pg, ln) for pg, ln in picked if repeats[_running_key(ln.text)] < many]
    plain_sizes = sorted({round(ln.size, 1) for _, ln in picked if ln.kind == "plain"}, reverse=True)
    top = max((ln.size for _, ln in picked if ln.kind != "plain" and ln.level == 0), default=0.0)
    out, seen = [], set()
    for page_no, line in picked:
        level = line.level
        if line.kind == "plain":  # as big as a top-level numbered heading -> 0, else by size rank
            level = 0 if top and line.size >= top - 0.5 else plain_sizes.index(round(line.size, 1))
        if (page_no, line.text) not in seen:
            seen.add((page_no, line.text))
            out.append({"first_page": page_no, "level": level, "heading": line.text})
    return out


def outline_sections(pdf: pdfium.PdfDocument) -> list[dict]:
    """Section starts from the PDF outline (bookmarks); entries without a page destination are skipped."""
    out = []
    try:
        for bm in pdf.get_toc():
            dest = bm.get_dest()
            index = dest.get_index() if dest is not None else None
            title = " ".join((bm.get_title() or "").split())
            if index is None or not (0 <= index < len(pdf)) or not title:
                continue
            out.append({"first_page": int(index), "level": int(bm.level), "heading": title})
    except pdfium.PdfiumError:
        return []
    out.sort(key=lambda s: s["first_page"])  # stable: outline order within a page
    return out


def first_heading(pages: list[PageHeadings]) -> str:
    """A title guess when the metadata has none: the largest line of the first page, if larger than the body."""
    if not pages or not pages[0].candidates:
        return ""
    sizes = [s for p in pages for s in p.sizes]
    body = statistics.median(sizes) if sizes else 0.0
    best = max(pages[0].candidates, key=lambda ln: ln.size)
    return best.text if best.size > body else ""


def start_scores(found: list[dict], truth: list[dict]) -> tuple[float, float]:
    """(precision, recall) of section start pages in `found` against `truth` (e.g. the PDF outline): a found start
    is right when a true section starts on that page. Empty `found`: precision 1; empty `truth`: recall 1."""
    f = {int(s["first_page"]) for s in found}
    t = {int(s["first_page"]) for s in truth}
    hit = len(f & t)
    return (hit / len(f) if f else 1.0, hit / len(t) if t else 1.0)
