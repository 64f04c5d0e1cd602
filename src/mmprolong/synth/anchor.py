"""Where a value sits on a page relative to the words that label it: the check that tells a right answer from
another value printed on the same page.

A page's stored text keeps its lines (pdfium's text layer, or OCR lines), and a line is what a table row, a
caption, a heading or a "label: value" pair is laid out on; a sentence wrapped over lines is put back together.
So a page is cut into units, each line and each sentence, and a value is *at its labels* when the unit holding it
has as many of the question's label words (row label, column header, subject, unit, year: the question's content
words, scope words and the answer left out) as any unit of the page holding a value of the same kind, and, within
the unit, as many label words within a few words of it as any other value there. Table cells are further tied to
their column: the page's own table parse (facts.page_facts) gives the cell at a row label and column header the
question names. The page store keeps no character boxes, so the stored text's line structure is the layout used.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .text import clean, norm, parse_number

LOCAL = 4   # words each side of a value that count as its immediate neighbourhood

_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?![\w.]\w)|[^\W_][\w'\-]*")
_NUM = re.compile(r"(?<![\w.,\-])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|\.\d|,\d{3})")
PAGE_REF = re.compile(r"\bpages?\s+\d+(?:\s*(?:-|to|through|,|and|&)\s*\d+)*", re.I)
_SECTION_NAME = re.compile(r"\b(?:section|chapter|part|appendix)\s+[\"'“‘][^\"'”’]{1,120}[\"'”’]", re.I)
# a clause that points at another page ("the plant listed with 5,343 under 2019 in Table 2 on page 4"): its words
# label a value there, not here
_BRIDGE = re.compile(r"\blisted with .{1,80}? in (?:the table|table \d+|figure \d+) on page \d+", re.I)
STOP = frozenset("""a about above according after again all also an and answer any are as at based be been before
being below between both but by can could did do does each either for from give given had has have how however if in
into is it its list many may more most much must no not of on one only or other over own per shown same shall should
so some such than that the their them then there these they this those through to two under up upon value values
was were what when where which while who whom whose why will with within would you your listed shown printed state
states stated says say mentioned document page pages section chapter table figure according order round decimal
places place nearest answer respectively name named give tell report reported number""".split())


def stem(word: str) -> str:
    w = word if word[:1] == "-" and word[1:2].isdigit() else word.strip("'-")
    return w[:5] if w.isalpha() and len(w) > 5 else w


_SEP = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}(?!\d))")


def words(text: str) -> list[str]:
    """Comparison tokens of `text`: casefolded, thousands separators gone (commas and narrow spaces, not the space
    between two table cells), long words cut to a 5-letter stem."""
    return [stem(t) for t in _TOKEN.findall(_SEP.sub("", clean(text).casefold()))]


def label_words(question: str, answers: list[str] = ()) -> frozenset[str]:
    """The question's content words: scope phrases ("On page 4", 'In the section "X"'), stop words and the
    answer's own words left out."""
    q = _BRIDGE.sub(" ", clean(question))
    q = _SECTION_NAME.sub(" ", PAGE_REF.sub(" ", q))
    drop = {w for a in answers for w in words(a)}
    out = set()
    for t in _TOKEN.findall(_SEP.sub("", q.casefold())):
        if t in STOP or (len(t) < 3 and not t.isdigit()):
            continue
        s = stem(t)
        if s not in drop:
            out.add(s)
    return frozenset(out)


@dataclass(frozen=True)
class Unit:
    kind: str                 # "line" | "sentence"
    line: int                 # index of its (first) line
    text: str
    toks: tuple[str, ...]     # words(text)
    table_row: bool           # a line of a label and two or more numbers: its cells are placed by column


@dataclass(frozen=True)
class Occurrence:
    unit: Unit
    pos: int                  # token index of the value in unit.toks (-1 for a string found by substring)


_BREAK = re.compile(r"[.!?;]\s+[A-Z(\"']")
_ROW = re.compile(r"^\D.*?[A-Za-z)\]]\s+[-+$€£]?\d[\d,.]*%?(?:\s+[-+$€£]?\d[\d,.]*%?)+\s*$")


@functools.lru_cache(maxsize=4096)
def units(text: str) -> tuple[Unit, ...]:
    """The page's lines and its sentences (wrapped lines joined), in reading order."""
    lines = [clean(x).strip() for x in (text or "").splitlines()]
    # a line is a unit unless it runs over a sentence end (a wide prose line): then its sentences are
    out = [Unit("line", i, ln, tuple(words(ln)), bool(_ROW.match(ln))) for i, ln in enumerate(lines)
           if ln and not _BREAK.search(ln)]
    buf: list[tuple[int, str]] = []

    def flush():
        if len(buf) > 1 or (buf and re.search(r"[.!?;:]\s+\S", buf[0][1])):
            joined = " ".join(x for _, x in buf)
            for s in re.split(r"(?<=[.!?;])\s+(?=[A-Z(\"'])", joined):
                if s.strip():
                    out.append(Unit("sentence", buf[0][0], s, tuple(words(s)), False))
        buf.clear()

    for i, ln in enumerate(lines):
        if not ln or _ROW.match(ln):
            flush()
            continue
        buf.append((i, ln))
        if ln.endswith((".", "!", "?", ":")):
            flush()
    flush()
    return tuple(out)


def _num_positions(u: Unit, value: float | None) -> list[int]:
    """Token positions of numbers in the unit (all of them, or those equal to `value`)."""
    out = []
    for i, t in enumerate(u.toks):
        v = parse_number(t)
        if v is not None and (value is None or v == value):
            out.append(i)
    return out


def find(text: str, answer: str) -> list[Occurrence]:
    """Where `answer` is printed on a page: a number by value, anything else by its words."""
    v = parse_number(answer)
    out = []
    aw = tuple(words(answer))
    for u in units(text):
        if v is not None:
            out += [Occurrence(u, i) for i in _num_positions(u, v)]
        elif aw:
            n = len(aw)
            hits = [i for i in range(len(u.toks) - n + 1) if u.toks[i:i + n] == aw]
            out += [Occurrence(u, i) for i in hits]
    return out


def candidates(text: str, answer: str) -> list[Occurrence]:
    """Every value of the answer's kind on the page: numbers for a number, every unit for anything else."""
    if parse_number(answer) is not None:
        return [Occurrence(u, i) for u in units(text) for i in _num_positions(u, None)]
    return [Occurrence(u, -1) for u in units(text)]


def score(o: Occurrence, labels: frozenset[str], span: int = 1,
          extra: frozenset[str] = frozenset()) -> tuple[int, int, int]:
    """(label words in its unit, `extra` words in its unit, label and extra words within LOCAL words of it); a
    table cell's local score is its row's (its column header is lines away: the table parse checks the column)."""
    toks = set(o.unit.toks)
    unit, more = len(labels & toks), len(extra & toks)
    if o.pos < 0:
        return unit, more, 0
    if o.unit.table_row:
        return unit, more, unit + more
    near = o.unit.toks[max(0, o.pos - LOCAL):o.pos] + o.unit.toks[o.pos + span:o.pos + span + LOCAL]
    return unit, more, len((labels | extra) & set(near))


def best(occs: list[Occurrence], labels: frozenset[str], span: int = 1,
         extra: frozenset[str] = frozenset()) -> tuple[int, int, int]:
    return max((score(o, labels, span, extra) for o in occs), default=(0, 0, 0))


def at_labels(texts: list[str], answer: str, labels: frozenset[str],
              extra: frozenset[str] = frozenset()) -> tuple[bool, tuple[int, int, int]]:
    """Whether `answer` is, on one of the pages `texts`, at least as close to the labels as any other value of its
    kind there (ranked by label words in the unit, then `extra` words there, then words right beside it), with at
    least one label word in its unit. Also gives its best score."""
    span = max(1, len(words(answer))) if parse_number(answer) is None else 1
    ok, top = False, (0, 0, 0)
    skip = labels | extra
    for text in texts:
        mine = best(find(text, answer), labels, span, extra)
        if mine[0] == 0:
            continue
        others = best([o for o in candidates(text, answer) if o.pos < 0 or o.unit.toks[o.pos] not in skip],
                      labels, span, extra)
        top = max(top, mine)
        ok = ok or mine >= others
    return ok, top


def filled(question: str) -> tuple[str, str] | None:
    """A cloze question's sentence around the blank ('... "left ___ right" ...'), or None."""
    m = re.search(r"[\"“](?P<s>[^\"”]*___[^\"”]*)[\"”]", question or "")
    if not m:
        return None
    left, right = m.group("s").split("___", 1)
    return left.removeprefix("...").strip(), right.removesuffix("...").strip()


def flat(text: str) -> str:
    """Casefolded, thousands separators gone, the characters a calc label cannot hold (`;=()[]@`) made spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[;=()\[\]@]", " ", _SEP.sub("", clean(text).casefold()))).strip()


def cloze_fills(question: str, texts: list[str], longest: int = 80) -> set[str] | None:
    """For a fill-the-blank question: what the pages print in the blank (normalised), found between the
    sentence's text before and after it; None when the question is not a cloze question."""
    lr = filled(question)
    if lr is None:
        return None
    left, right = (re.escape(flat(x)).replace(r"\ ", r"\s+") for x in lr)
    fill = rf"((?:[^.!?]|[.!?](?=\S)){{1,{longest}}}?)"   # within the sentence ("10.13", "R.A." stay whole)
    pat = re.compile((r"(?<!\w)" + left + r"\s*" if left else r"(?:^|(?<=\s))") + fill
                     + (r"\s*" + right + (r"(?!\w)" if right[-1:].isalnum() else "") if right else r"(?=[.;:!?]|$)"))
    out: set[str] = set()
    for t in texts:
        page = flat(" ".join((t or "").splitlines()))
        out.update(m.group(1).strip() for m in pat.finditer(page))
    return out


def cloze_fits(question: str, answer: str, texts: list[str]) -> bool | None:
    """For a fill-the-blank question: whether the sentence with the answer in the blank is printed on one of the
    pages (None: not a cloze question)."""
    fills = cloze_fills(question, texts)
    return None if fills is None else flat(answer) in fills


def ambiguous(question: str, answer: str, ev_texts: list[str], other_texts: list[str]) -> bool:
    """The answer also sits at the question's labels on another page of its scope, at least as well as on its
    evidence pages: the question does not point at one place."""
    if not other_texts or filled(question) is not None:
        return False
    labels = label_words(question, [answer])
    mine = at_labels(ev_texts, answer, labels)[1]
    there, top = at_labels(other_texts, answer, labels)
    return there and top >= mine and top[0] >= 2
