"""The offline `rules` generator: questions from facts found in the segment's text layer, deterministic given rng.

extract-single asks for one fact; extract-multi for two facts on two pages (one page when only one has facts);
reasoning combines two numbers (difference / sum / ratio / comparison), counts table rows, or counts what the
document's structure holds (a section's subsections, numbered figures and tables: structure.py), and writes its
operands into the evidence description as a `calc:` line so verification can recompute the answer.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter

from ..corpus.store import Document
from . import anchor
from .base import Generator
from .calc import calc_line
from .config import GeneratorConfig
from .facts import _PAST, Fact, page_facts
from .record import QARecord
from .structure import caption_counts, subsection_counts
from .tasks import check_task, unique_sections
from .text import contains, fmt_number, norm, numbers_in, parse_number

_WEIGHT = {"number": 4, "name": 2, "date": 1, "heading": 1, "year": 0.5}
# sources are balanced first (a table gives a dozen cells, a paragraph one sentence), then kinds within a source
_SOURCE_WEIGHT = {"Text": 3, "Table": 2, "Figure": 1, "Layout": 0.5}


@functools.lru_cache(maxsize=2048)
def _page_facts(text: str, page: int, headings: tuple[str, ...]) -> tuple[Fact, ...]:
    return tuple(page_facts(text, page, list(headings)))


RUNNING_LINES = 2   # lines at the top and at the bottom of a page that may be a running header or footer
RUNNING_PAGES = 3   # ... when the same line (numbers aside) is there on this many pages
RUNNING_WORDS = 12  # ... and is short and not a sentence (a header is a title and a number, not a statement of fact)


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def running_lines(doc: Document) -> frozenset[str]:
    """Keys of running headers and footers ("Chapter 1: Introduction 6", "Page 12 of 80"), and bare page numbers.
    A line is one when it repeats (numbers aside) at the page edges, or, seen once (a short chapter), when it is
    a page number and a section's heading ("Chapter 3: Importing from other statistical systems 16"). Memoised per
    document text: a document is asked many times."""
    return _running_lines(tuple(p.get("text") or "" for p in doc.pages),
                          tuple(str(s.get("heading") or "") for s in doc.sections))


_NUMBERING = re.compile(r"^(?:\d+|[a-z])(?:\.\d+)*\.?\s+")


@functools.lru_cache(maxsize=16)
def _running_lines(texts: tuple[str, ...], headings: tuple[str, ...]) -> frozenset[str]:
    heads = {h for h in (_NUMBERING.sub("", norm(x)) for x in headings) if len(h) >= 4}
    counts: Counter = Counter()
    titled: set[str] = set()
    for text in texts:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        edge = lines[:RUNNING_LINES] + lines[-RUNNING_LINES:] if len(lines) > 2 * RUNNING_LINES else lines
        keys = {_running_key(ln): ln for ln in edge
                if len(ln.split()) <= RUNNING_WORDS and not ln.rstrip().endswith((".", "!", "?"))}
        counts.update(keys.keys())
        titled.update(k for k, ln in keys.items() if _titled(ln, heads))
    return frozenset({k for k, c in counts.items() if c >= RUNNING_PAGES} | titled | {"#"})


def _titled(line: str, heads: set[str]) -> bool:
    """A page number at one end and a section heading after at most three leading words ("Chapter 3:")."""
    words = norm(line).split()
    if len(words) < 2 or not (words[0].isdigit() or words[-1].isdigit()):
        return False
    words = words[:-1] if words[-1].isdigit() else words[1:]
    return any(" ".join(words[k:]) in heads for k in range(min(4, len(words))))


def _strip_running(text: str, keys: set[str]) -> str:
    lines = text.splitlines()
    if len(lines) <= 2 * RUNNING_LINES:
        return "\n".join(ln for ln in lines if _running_key(ln) not in keys)
    keep = [ln for ln in lines[:RUNNING_LINES] if _running_key(ln) not in keys]
    keep += lines[RUNNING_LINES:-RUNNING_LINES]
    keep += [ln for ln in lines[-RUNNING_LINES:] if _running_key(ln) not in keys]
    return "\n".join(keep)


def segment_facts(doc: Document, segment: tuple[int, int]) -> list[Fact]:
    """Facts of the segment's pages, running headers and footers left out (memoised per page text: a document is
    asked many times)."""
    first, last = segment
    heads: dict[int, list[str]] = {}
    for s in doc.sections:
        heads.setdefault(int(s["first_page"]), []).append(str(s.get("heading") or ""))
    keys = running_lines(doc)
    out: list[Fact] = []
    for p in doc.pages:
        pg = int(p["page"])
        if first <= pg <= last:
            out += _page_facts(_strip_running(p.get("text") or "", keys), pg, tuple(heads.get(pg, [])))
    return out


_PLAIN: dict[tuple, bool] = {}


def _plain(doc: Document, facts: list[Fact]) -> list[Fact]:
    """Facts whose answer is not degenerate (a list number, footnote marker, page number, running line or licence
    boilerplate: what verification refuses, degenerate.py). Memoised per document page and answer."""
    from .degenerate import reason

    if len(_PLAIN) > 200_000:
        _PLAIN.clear()
    texts = {int(p["page"]): p.get("text") or "" for p in doc.pages}
    out = []
    for f in facts:
        key = (doc.doc_id, f.page, texts.get(f.page, ""), f.answer, "___" in f.ask)
        if key not in _PLAIN:
            _PLAIN[key] = f.kind == "heading" or reason(f.answer, [key[2]], doc, in_sentence=key[4]) is None
        if _PLAIN[key]:
            out.append(f)
    return out


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _desc(f: Fact) -> str:
    if f.anchored:
        return f.desc
    if f.desc.endswith(")"):
        return f"{f.desc[:-1]}, page {f.page + 1})"
    return f"{f.desc} (page {f.page + 1})"


def _pick(facts: list[Fact], rng: random.Random) -> Fact:
    sources = sorted({f.source for f in facts})
    src = rng.choices(sources, weights=[_SOURCE_WEIGHT.get(s, 1) for s in sources], k=1)[0]
    pool = [f for f in facts if f.source == src]
    return rng.choices(pool, weights=[_WEIGHT.get(f.kind, 1) for f in pool], k=1)[0]


class RulesGenerator(Generator):
    name = "rules"

    def __init__(self, cfg: GeneratorConfig | None = None):
        self.cfg = cfg or GeneratorConfig()

    def generate(self, doc: Document, segment: tuple[int, int], task: str, rng: random.Random) -> list[QARecord]:
        check_task(task)
        facts = _plain(doc, segment_facts(doc, segment))
        if not facts and task != "reasoning":   # reasoning may still count the segment's headings and captions
            return []
        make = {"extract-single": self._single, "extract-multi": self._multi, "reasoning": self._reasoning}[task]
        qa = make(doc, segment, facts, rng)
        return [qa] if qa else []

    def _record(self, doc, segment, task, q, answer, fmt, facts: list[Fact], evidence: str = "") -> QARecord:
        pages = sorted({f.page for f in facts})
        sources = sorted({f.source for f in facts})
        ev = " ".join(f"Page {f.page + 1}: \"{f.span}\"." for f in facts)
        return QARecord(doc_id=doc.doc_id, task=task, segment=tuple(segment), question=q, answer=answer,
                        answer_format=fmt, evidence_pages=pages, evidence_sources=sources,
                        evidence=(ev + (" " + evidence if evidence else "")).strip(), generator=self.name)

    # -- extract-single ---------------------------------------------------------------------------------------
    def _single(self, doc, segment, facts, rng) -> QARecord | None:
        for _ in range(5):   # a question that gives away its answer ("a ___-bit ... 32-bits") is drawn again
            f = _pick(facts, rng)
            q = self._anchored(f, doc, segment, facts, rng)
            if not _leaks(q, [f.answer]):
                return self._record(doc, segment, "extract-single", q, f.answer, f.fmt, [f])
        return None

    def _anchored(self, f: Fact, doc: Document, segment, facts: list[Fact], rng: random.Random) -> str:
        if f.anchored:
            return _cap(f.ask)
        page = f.page + 1
        choice = rng.random()
        if choice < 0.3:
            starts = Counter(int(x["first_page"]) for x in doc.sections)   # sections sharing a start page
            secs = [s for s in unique_sections(doc) if s.first <= f.page <= s.last and starts[s.first] == 1
                    and segment[0] <= s.first and s.last <= segment[1] and s.last > s.first]
            if secs and self._unique(f, facts, secs[-1].first, secs[-1].last, doc):
                return f'In the section "{secs[-1].heading}", {f.ask}'
        elif choice < 0.5:
            size = rng.randint(2, 6)
            a = max(segment[0], min(f.page - rng.randint(0, size - 1), segment[1] - size + 1))
            b = min(segment[1], a + size - 1)
            if b > a and self._unique(f, facts, a, b, doc):
                return f"On pages {a + 1}-{b + 1}, {f.ask}"
        return f"{rng.choice(['According to', 'On'])} page {page}, {f.ask}"

    @staticmethod
    def _unique(f: Fact, facts: list[Fact], a: int, b: int, doc: Document | None = None) -> bool:
        """Within pages a..b the question has one answer, on one page: no other page of the range holds the value
        at the question's labels (what verification rejects as ambiguous_in_scope)."""
        if {norm(g.answer) for g in facts if a <= g.page <= b and norm(g.ask) == norm(f.ask)} != {norm(f.answer)}:
            return False
        if doc is None:
            return True
        texts = {int(p["page"]): p.get("text") or "" for p in doc.pages}
        return not anchor.ambiguous(f.ask, f.answer, [texts.get(f.page, "")],
                                    [texts.get(p, "") for p in range(a, b + 1) if p != f.page])

    # -- extract-multi ----------------------------------------------------------------------------------------
    def _multi(self, doc, segment, facts, rng) -> QARecord | None:
        hops = _two_hops(facts)
        if hops and rng.random() < 0.35:
            row, fact, q = hops[rng.randrange(len(hops))]
            return self._record(doc, segment, "extract-multi", q, fact.answer, fact.fmt, [row, fact])
        for _ in range(5):  # a pair whose question gives away one of its answers is drawn again
            pair = _pair(facts, rng, numeric=False)
            if pair is None:
                return None
            f1, f2 = pair
            q = (f"Give {_desc(f1)} and {_desc(f2)}. "
                 f"Answer with a list of the two values, in that order.")
            if not _leaks(q, [f1.answer, f2.answer]):
                break
        else:
            return None
        return self._record(doc, segment, "extract-multi", q, json.dumps([f1.answer, f2.answer], ensure_ascii=False),
                            "List", [f1, f2])

    # -- reasoning --------------------------------------------------------------------------------------------
    def _reasoning(self, doc, segment, facts, rng) -> QARecord | None:
        nums = [f for f in facts if f.numeric]
        ops = []
        tables = _count_tables(nums)
        if tables:
            ops.append("count")
        pair = _pair(nums, rng, numeric=True)
        if pair and not _comparable(*pair):   # arithmetic on unrelated quantities reads as nonsense
            pair = None
        if pair:
            ops += ["difference", "sum", "ratio", "compare"]
        counts = subsection_counts(doc, segment, rng) + caption_counts(doc, segment)
        if counts:
            ops.append("structure")
        if not ops:
            return None
        op = rng.choice(ops)
        if op == "count":
            return self._count(doc, segment, tables[rng.randrange(len(tables))], rng)
        if op == "structure":
            c = counts[rng.randrange(len(counts))]
            return QARecord(doc_id=doc.doc_id, task="reasoning", segment=tuple(segment), question=c.question,
                            answer=str(c.answer), answer_format="Integer", evidence_pages=c.pages,
                            evidence_sources=[c.source], evidence=c.evidence, generator=self.name)
        f1, f2 = pair
        d1, d2 = _desc(f1), _desc(f2)
        l1, l2 = _label(f1), _label(f2)
        v1, v2 = f1.value, f2.value
        integral = f1.fmt == f2.fmt == "Integer"
        if op == "ratio" and v2 == 0 or op == "compare" and v1 == v2:
            op = "difference"
        if op == "difference":
            q, ans, fmt = f"What is {d1} minus {d2}?", fmt_number(v1 - v2), "Integer" if integral else "Float"
        elif op == "sum":
            q, ans, fmt = f"What is the sum of {d1} and {d2}?", fmt_number(v1 + v2), "Integer" if integral else "Float"
        elif op == "ratio":
            q, ans, fmt = (f"What is the ratio of {d1} to {d2}? Round to two decimal places.",
                           fmt_number(round(v1 / v2, 2)), "Float")
        else:
            hi = rng.random() < 0.5
            word = "higher" if hi else "lower"
            if f1.label and f2.label and norm(f1.label) != norm(f2.label):
                q = f"Which is {word}: {d1} or {d2}? Answer with {f1.label} or {f2.label}."
                op = "argmax" if hi else "argmin"   # calc labels keep the column: verification finds the cell
                ans, fmt = (f1 if (v1 > v2) == hi else f2).label, "String"
            else:
                q = f"Which is {word}: {d1} or {d2}? Answer with that value."
                op = "max" if hi else "min"
                ans, fmt = (f1 if (v1 > v2) == hi else f2).answer, (f1 if (v1 > v2) == hi else f2).fmt
        ev = calc_line(op, [(l1, v1), (l2, v2)], pages=[f1.page + 1, f2.page + 1])
        return self._record(doc, segment, "reasoning", q, ans, fmt, [f1, f2], ev)

    def _count(self, doc, segment, rows: list[Fact], rng) -> QARecord:
        values = sorted({r.value for r in rows})
        thr = values[rng.randrange(len(values) - 1)] if len(values) > 1 else values[0]
        n = sum(1 for r in rows if r.value > thr)
        f = rows[0]
        if f.source == "Table":
            q = f"According to {f.where}, how many rows have a {f.col} value greater than {fmt_number(thr)}?"
        else:
            q = f"According to {f.where}, how many of the values shown are greater than {fmt_number(thr)}?"
        ev = calc_line("count_gt", [(_label(r), r.value) for r in rows], param=thr, pages=[r.page + 1 for r in rows])
        return self._record(doc, segment, "reasoning", q, str(n), "Integer", rows, ev)


def _leaks(question: str, answers: list[str]) -> bool:
    nums = numbers_in(question)
    for a in answers:
        v = parse_number(a)
        if (v is not None and v in nums) or (len(norm(a)) >= 2 and contains(question, a)):
            return True
    return False


_PREPOSITIONS = {"in", "on", "at", "of", "for", "during", "by", "from", "to", "and", "or", "with", "across", "over",
                 "per"}
_NOUN_STOP = _PREPOSITIONS | {"report", "record", "achieve", "post", "have", "was", "were", "is", "are"} | set(_PAST.values())
_THE_LABEL = re.compile(r"\bthe ([A-Z][\w'&-]*(?: [A-Z][\w'&-]*)*)((?: [a-z][a-z-]*){1,3})")


def _two_hops(facts: list[Fact]) -> list[tuple[Fact, Fact, str]]:
    """Bridge questions: a sentence fact about "the <Label> <noun>" asked through a table row of that label on
    another page ("... the plant listed with 5,343 under 2019 in Table 2 on page 4 ..."). Only rows whose value is
    unique in its column, so the bridge names one entity."""
    col_values = Counter((f.table, f.key, f.answer) for f in facts if f.table)
    rows: dict[str, list[Fact]] = {}
    for f in facts:
        if f.table and f.source == "Table" and len(f.label) >= 3 and col_values[(f.table, f.key, f.answer)] == 1:
            rows.setdefault(f.label, []).append(f)
    out = []
    for f in facts:
        if f.anchored or f.source != "Text" or "___" in f.ask:
            continue
        for m in _THE_LABEL.finditer(f.ask):
            words = []
            for w in m.group(2).split():
                if w in _NOUN_STOP and (words or w in _PREPOSITIONS):  # the first word is a noun ("plant")
                    break
                words.append(w)
            if not words:
                continue
            noun = " ".join(words)
            for r in rows.get(m.group(1), []):
                if r.page == f.page or r.answer == f.answer:
                    continue
                value = f"{float(r.answer):,.0f}" if r.fmt == "Integer" else r.answer
                bridge = f"the {noun} listed with {value} under {r.col} in {r.where}"
                out.append((r, f, f"On page {f.page + 1}, " + f.ask.replace(f"the {r.label} {noun}", bridge, 1)))
    return out


def _label(f: Fact) -> str:
    """An operand's label: its row and column, else the words that describe it (what verification looks for
    beside its value on its page)."""
    if f.label and f.source == "Figure":
        return f"{f.where.split(' on ')[0]} {f.label}"
    if f.label:
        return f"{f.label} {f.col}".strip()
    return f.desc


def _count_tables(nums: list[Fact]) -> list[list[Fact]]:
    groups: dict[tuple[str, str], list[Fact]] = {}
    for f in nums:
        if f.table:
            groups.setdefault((f.table, f.key), []).append(f)
    return [g for _, g in sorted(groups.items()) if len(g) >= 3]


def _comparable(a: Fact, b: Fact) -> bool:
    """Two quantities worth adding, subtracting or comparing: the same table column or the same kind of quantity."""
    return bool(a.key) and a.key == b.key and not a.key.startswith("cloze:")


def _pair(facts: list[Fact], rng: random.Random, numeric: bool) -> tuple[Fact, Fact] | None:
    """Two facts with different answers: a first one (sources balanced), then a partner on another page with the
    same key (comparable), else any on another page, else (one-page fallback) one on the same page."""
    if len(facts) < 2:
        return None
    firsts = facts
    if numeric:  # reasoning: start from a fact that has a comparable partner when there is one
        keys = Counter((f.key, f.answer) for f in facts if f.key and not f.key.startswith("cloze:"))
        per_key = Counter(k for k, _ in keys)
        firsts = [f for f in facts if per_key.get(f.key, 0) >= 2] or facts
    for _ in range(4):
        a = _pick(firsts, rng)
        others = [f for f in facts if f is not a and f.answer != a.answer]
        comparable = [f for f in others if a.key and f.key == a.key and not a.key.startswith("cloze:")]
        far = [f for f in comparable if f.page != a.page]
        pools = ([far, comparable, [f for f in others if f.page != a.page]] if numeric else
                 [far, [f for f in others if f.page != a.page], comparable, others])
        for pool in pools:
            if pool:
                b = _pick(pool, rng)
                return (a, b) if (a.page, a.answer) <= (b.page, b.answer) else (b, a)
    return None
