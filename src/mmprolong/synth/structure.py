"""Reasoning over a document's structure: how many subsections a section has, how many numbered figures or tables
a run of pages holds.

Manuals, specifications and theses hold few comparable quantities, so the number arithmetic of rules.py rarely finds
two values worth combining in them (2 reasoning items in 279 attempts on 157 Debian manuals); their structure is
what a reader of a long document counts over (MMLongBench-Doc asks "how many subsections", "how many figures").
Every item is machine-checkable: headings are counted with a `count_named` calc line (each heading found on the
page it names), figures and tables with `count` over the numbers they are printed with.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..corpus.store import Document
from .calc import calc_line, clean_label
from .tasks import Section, section_scopes, subsections, unique_sections
from .text import contains, norm, parse_number

MIN_ITEMS = 2    # counting one thing is a lookup, not reasoning
MAX_ITEMS = 12   # ... and past a dozen a count is a chore that a misread heading spoils

# a caption at the start of a line: "Figure 3: ...", "Table 2.1. ...", "Fig. 4: ..."
_CAPTION = re.compile(r"(?m)^(?P<kind>Figure|Fig\.|Table)\s+(?P<num>\d{1,3}(?:\.\d{1,3})?)\s*[:.]\s+\S")
_KIND = {"Figure": "figure", "Fig.": "figure", "Table": "table"}


@dataclass(frozen=True)
class Count:
    question: str
    items: list[tuple[int, str]]   # (0-based page, label) of each counted item
    calc: str
    source: str = "Layout"         # the evidence source: Layout (headings), Figure or Table (captions)

    @property
    def answer(self) -> int:
        return len(self.items)

    @property
    def pages(self) -> list[int]:
        return sorted({p for p, _ in self.items})

    @property
    def evidence(self) -> str:
        return " ".join(f'Page {p + 1}: "{x}".' for p, x in self.items) + " " + self.calc


def _texts(doc: Document) -> dict[int, str]:
    return {int(p["page"]): p.get("text") or "" for p in doc.pages}


def subsection_counts(doc: Document, segment: tuple[int, int], rng: random.Random) -> list[Count]:
    """'How many subsections does the section "X" have?' for each section inside the segment whose heading names
    one section and whose direct subsections (2-12) are each found, by heading, on the page the outline gives."""
    texts = _texts(doc)
    scopes = section_scopes(doc)
    named = {norm(s.heading) for s in unique_sections(doc, scopes)}
    out = []
    for parent, kids in subsections(doc, scopes):
        if not (segment[0] <= parent.first and parent.last <= segment[1]) or norm(parent.heading) not in named \
                or '"' in parent.heading or not MIN_ITEMS <= len(kids) <= MAX_ITEMS:
            continue
        if re.search(r"[\\{}$]", parent.heading) or not _numbered_in_order(parent, kids):
            continue
        labels = [clean_label(k.heading) for k in kids]
        if len({norm(x) for x in labels}) != len(labels) or any(len(norm(x)) < 3 for x in labels) \
                or not all(contains(texts.get(k.first, ""), x) for k, x in zip(kids, labels)):
            continue
        q = rng.choice([f'How many subsections does the section "{parent.heading}" have?',
                        f'In the section "{parent.heading}", how many subsections are there?',
                        f'The section "{parent.heading}" is divided into how many subsections?'])
        out.append(_count(q, kids, labels))
    return out


_NUMBER = re.compile(r"^(\d{1,3}(?:\.\d{1,3})*)\.?\s+\S")


def _number(heading: str) -> tuple[int, ...] | None:
    m = _NUMBER.match(heading)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def _numbered_in_order(parent: Section, kids: list[Section]) -> bool:
    """Numbered subsections must number on from their section without a gap ("4" -> "4.1", "4.2", "4.3"): a gap or
    a foreign number is a heading the outline or the heading heuristic lost or misplaced, and the count would be
    wrong. Unnumbered subsections are taken as the outline gives them."""
    nums = [_number(k.heading) for k in kids]
    if all(n is None for n in nums):
        return True
    if any(n is None for n in nums) or len({len(n) for n in nums}) != 1 or len({n[:-1] for n in nums}) != 1:
        return False
    if any(b[-1] != a[-1] + 1 for a, b in zip(nums, nums[1:])):
        return False
    top = _number(parent.heading)
    return top is None or (nums[0][:-1] == top and nums[0][-1] == 1)


def _count(q: str, kids: list[Section], labels: list[str]) -> Count:
    pages = [k.first for k in kids]
    return Count(q, list(zip(pages, labels)),
                 calc_line("count_named", [(x, 1) for x in labels], pages=[p + 1 for p in pages]))


def caption_counts(doc: Document, segment: tuple[int, int]) -> list[Count]:
    """'How many numbered figures are there on pages a-b?' (and tables) over the segment's pages, when its captions
    of that kind are 2-12, each printed once, numbered without a gap (a gap is a caption the text layer lost)."""
    first, last = segment
    texts = _texts(doc)
    found: dict[str, list[tuple[int, str, str]]] = {}
    for pg in range(first, last + 1):
        for m in _CAPTION.finditer(texts.get(pg, "")):
            found.setdefault(_KIND[m.group("kind")], []).append((pg, m.group("kind"), m.group("num")))
    out = []
    for kind, caps in sorted(found.items()):
        nums = [c[2] for c in caps]
        if not MIN_ITEMS <= len(caps) <= MAX_ITEMS or len(set(nums)) != len(nums) or not _consecutive(nums):
            continue
        q = f"How many numbered {kind}s are there on pages {first + 1}-{last + 1}?"
        labels = [f"{k} {n}" for _, k, n in caps]
        calc = calc_line("count", [(x, parse_number(n)) for x, (_, _, n) in zip(labels, caps)],
                         pages=[pg + 1 for pg, _, _ in caps])
        out.append(Count(q, [(pg, x) for (pg, _, _), x in zip(caps, labels)], calc, kind.capitalize()))
    return out


def _consecutive(nums: list[str]) -> bool:
    """'3', '4', '5' or '2.1', '2.2', '3.1' (numbering restarts per chapter): each next one follows the last."""
    parts = [tuple(int(x) for x in n.split(".")) for n in nums]
    if len({len(p) for p in parts}) != 1:
        return False
    for a, b in zip(parts, parts[1:]):
        if len(a) == 1:
            if b[0] != a[0] + 1:
                return False
        elif not (b[:-1] == a[:-1] and b[-1] == a[-1] + 1 or b[0] == a[0] + 1 and b[-1] == 1):
            return False
    return True


# ---- recounting what a question asks about the structure, from the stored sections and the captions ----------------
_SUBSECTIONS_Q = re.compile(r"subsections?\b", re.I)
_QUOTED = re.compile(r"[\"“'‘](?P<h>[^\"”’]{3,200})[\"”’]")
_CAPTIONS_Q = re.compile(r"\bhow many (?:numbered )?(?P<kind>figure|table)s\b", re.I)
_BARE = re.compile(r"^(?:\d+|[a-z])(?:\.\d+)*\.?\s+")
_BEGINS_Q = re.compile(r"\bsection (?:that )?(?:begins|starts) on page (?P<page>\d+)\b", re.I)


def recount(question: str, doc: Document, scope: set[int] | None) -> int | None:
    """The answer to a structure count ("how many subsections does the section "X" have", "how many numbered
    figures are there on pages a-b") counted from the stored outline and the pages' captions, independently of
    any items an item lists; None when the question is not such a count (or names no one section)."""
    if _SUBSECTIONS_Q.search(question) and re.search(r"\bhow many\b|\binto how many\b", question, re.I):
        m = _QUOTED.search(question)
        if not m:
            return None
        want = norm(m.group("h"))
        found = [(s, kids) for s, kids in subsections(doc) if norm(s.heading) == want]
        if not found:   # the outline without the number the page prints ("Usage notes" for "3 Usage notes")
            bare = _BARE.sub("", want)
            found = [(s, kids) for s, kids in subsections(doc) if _BARE.sub("", norm(s.heading)) == bare]
        return len(found[0][1]) if len(found) == 1 else None
    m = _CAPTIONS_Q.search(question)
    if m and scope:
        texts = _texts(doc)
        nums = {c.group("num") for pg in sorted(scope) for c in _CAPTION.finditer(texts.get(pg, ""))
                if _KIND[c.group("kind")] == m.group("kind").lower()}
        return len(nums)
    return None


def begins_on(question: str, doc: Document) -> set[str] | None:
    """The stored headings of the sections that begin on the page a "the section that begins on page N" question
    names (normalised); None when the question is not one."""
    m = _BEGINS_Q.search(question)
    if not m:
        return None
    page = int(m.group("page")) - 1
    return {norm(str(s.get("heading") or "")).strip(" .") for s in doc.sections if int(s["first_page"]) == page}
