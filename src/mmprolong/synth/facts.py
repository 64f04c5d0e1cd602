"""Find checkable facts in a page's text layer: table rows, sentences with quantities/dates/names, section headings.

Each Fact carries a question body (`ask`, scope anchor added by the generator), a noun phrase (`desc`) for combining
facts, the answer as it must be written, and what it can be compared with (`key`). Everything is taken from the text
layer, so every answer is found verbatim (after normalisation) on its page. Pages with no text give no facts.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from .text import clean, fmt_number, is_year, norm, parse_number

_CELL = r"[-+$€£]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?"
_ROW = re.compile(rf"^(?P<label>[^\d\s][^\t]*?[A-Za-z)\]])\s+(?P<cells>{_CELL}(?:\s+{_CELL})*)\s*$")
_NUM_IN_SENT = re.compile(r"(?<![\w.,\-$])(?P<cur>\$)?(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?P<pct>%)?(?![\w]|\.\d|,\d{3})")
_REF_BEFORE = re.compile(r"(?:page|pages|table|figure|fig\.|section|chapter|appendix|no\.|number|step|item|versions?|"
                         r"releases?|line|lines|p\.|pp\.|eq\.|equation|ref\.|vol\.|e\.g\.|i\.e\.|\[)\s*$",
                         re.IGNORECASE)
# a number followed by one of these is a count or size, not a year ("2048 bytes")
_NOT_YEAR_AFTER = re.compile(r"^\s*(?:x\b|×|bytes?|bits?|[kmgt]i?b\b|px|pixels?|points?|pt\b|dpi|characters?|chars?|"
                             r"lines?|rows?|columns?|words?|times|items?|entries|[km]?hz|ms\b|seconds?|steps?)",
                             re.IGNORECASE)
MAX_YEAR = 2035        # "what year" only for plausible years
MAX_NUMBERS_CLOZE = 2  # a sentence with more numbers is a list or a row of values: no number blanks in it
# code, markup and formulas: no blanks in them ("A <- as.matrix(x)", "$\underline{Z}$", "a = 2")
_CODE = re.compile(r"[\\{}=<>~^|]|<-|\$\S*\$|\w\(|\w\.\w+\(|(?:^|\s)--?[a-z]|\*\.\w")
# footnote markers glued to a word ("limited3 to", "the same.3 There") and list numbers after a sentence ("work. 2.")
_MARKER = re.compile(r"[a-z]{4}[.,;:]?\d(?=\s|$)|\.\s+\d{1,2}\.$|\d\.\s+[a-z]")   # last: "is 2. decimal sets"
_NOT_YEAR_BEFORE = re.compile(r"(?:\d\s*(?:x|×|by)|\b[x×])\s*$")   # "200 x 2000"
# a number that names something rather than counts it: an item number after a clause ("is used; 4."), the end of
# a list ("4, 5, or 6"), or an identifier after a name ("IEC 60559", "Excel 3.0", "Windows 10")
_NOT_A_QUANTITY_BEFORE = re.compile(r"(?:\d,?\s*(?:and|or)\s*|[.;:]\s*|\b[A-Z][A-Za-z]*\s|[-+*/^=\'\"‘’“”]\s*)$")
_NOT_A_QUANTITY_AFTER = re.compile(r"^(?:\s+[.,;:]|[/:]\d|%?x\d)")   # "lost 2 .", "2004/8", "50%x100%"
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:(?:{_MONTHS}) \d{{1,2}}, \d{{4}}|\d{{1,2}} (?:{_MONTHS}) \d{{4}})\b")
_NAME = re.compile(r"(?<=[a-z,;] )(?:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)(?: (?:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?|of|de|van|von)){1,3}"
                   r"(?= [a-z]|[.,;])")
_DETERMINERS = {"capital", "revenue", "output", "production", "employment", "turnover", "income", "spending",
                "expenditure", "the", "a", "an", "its", "their", "our", "this", "these", "that", "each", "every", "total", "average"}
_COPULA = {"was": "was", "were": "were", "is": "is", "are": "are", "stood at": "was", "totaled": "was",
           "totalled": "was", "amounted to": "was", "reached": "was", "averaged": "was", "came to": "was"}
_PAST = {"produced": "produce", "employed": "employ", "recorded": "record", "reported": "report", "sold": "sell",
         "shipped": "ship", "received": "receive", "processed": "process", "handled": "handle", "served": "serve",
         "treated": "treat", "enrolled": "enroll", "hired": "hire", "built": "build", "installed": "install",
         "opened": "open", "published": "publish", "collected": "collect", "generated": "generate", "used": "use",
         "consumed": "consume", "added": "add", "launched": "launch", "completed": "complete", "delivered": "deliver",
         "exported": "export", "imported": "import", "trained": "train", "had": "have", "registered": "register",
         "planted": "plant", "attracted": "attract", "spent": "spend", "earned": "earn", "raised": "raise",
         "logged": "log", "counted": "count", "identified": "identify", "tested": "test", "recruited": "recruit",
         "surveyed": "survey", "analyzed": "analyze", "analysed": "analyse", "included": "include",
         "issued": "issue", "approved": "approve", "repaired": "repair", "inspected": "inspect", "mined": "mine",
         "harvested": "harvest", "transported": "transport", "welcomed": "welcome", "hosted": "host",
         "operated": "operate", "manufactured": "manufacture", "assembled": "assemble", "sent": "send",
         "lost": "lose", "gained": "gain", "made": "make", "won": "win", "saved": "save", "paid": "pay",
         "cut": "cut", "created": "create", "supported": "support", "funded": "fund", "answered": "answer",
         "resolved": "resolve", "filed": "file", "closed": "close", "released": "release", "stored": "store",
         "emitted": "emit", "purchased": "purchase", "bought": "buy", "acquired": "acquire", "visited": "visit"}
_VERBS = "|".join(sorted(list(_COPULA) + list(_PAST), key=len, reverse=True))
_BEFORE = re.compile(rf"^(?:(?P<lead>(?:In|By|During|At the end of|By the end of) (?P<year>1[89]\d\d|20\d\d), )(?P<lsubj>[\w'&\-]+(?: [\w'&\-]+){{0,9}}?)"
                     rf"|(?P<subj>[A-Z][\w'&\-]*(?: [\w'&\-]+){{0,9}}?))"
                     rf" (?P<verb>{_VERBS}) (?P<qual>a total of )?(?P<cur>(?:USD|EUR|GBP|US\$|\$|€|£) ?)?$")
_REPORTED = re.compile(r"^(?P<subj>[A-Z][\w'&\-]*(?: [\w'&\-]+){0,9}?) (?P<verb>reported|recorded|achieved|posted|had)"
                       r" (?:a|an) (?P<attr>[a-z][a-z\- ]{2,40}?) of (?P<cur>(?:USD|EUR|GBP|US\$|\$|€|£) ?)?$")
_PREP = r"(?:in|at|during|by|for|across|over|per|on|from|and|or|to|than|with|of)\b"
_WORD = rf"(?!{_PREP})[a-z][a-z\-]*"
_UNIT = rf"(?: (?P<unit>{_WORD}(?: {_WORD})?(?: of {_WORD}(?: {_WORD})?)?))?"
_AFTER = re.compile(rf"^(?P<pct>%| percent)?{_UNIT}(?P<rest>(?: (?:in|at|during|by|for|across|over|per|on|from) [^.;:!?,()\[\]]{{1,60}})?)\.$")
_STOP_UNITS = {"in", "at", "during", "by", "for", "across", "over", "per", "on", "from", "and", "or", "to", "than",
               "the", "a", "an", "of", "with"}


@dataclass(frozen=True)
class Fact:
    page: int                 # 0-based
    source: str               # Text | Table | Layout
    answer: str               # as the answer must be written (numbers canonical, no thousands separators)
    fmt: str                  # Integer | Float | String
    ask: str                  # question body without scope, lower-case start, ends with '?'
    desc: str                 # noun phrase naming the fact (for combined questions)
    span: str                 # the text it was read from (evidence description)
    value: float | None = None
    key: str = ""             # facts with equal keys are comparable (same table column / same unit)
    label: str = ""           # row label (table facts) for comparisons
    table: str = ""           # table id on the page (for counting over rows)
    anchored: bool = False    # `ask` already names its page
    kind: str = "number"      # number | year | date | name | heading
    where: str = ""           # "Table 1 on page 4" / "Figure 2 on page 7" for table and figure facts
    col: str = ""             # the column (table) the value is in

    @property
    def numeric(self) -> bool:
        return self.value is not None and self.kind == "number"


def page_facts(text: str, page: int, headings: list[str] = ()) -> list[Fact]:
    """All facts on one page, in reading order (deterministic)."""
    text = clean(text or "")
    if not text.strip():
        return []
    lines = [ln.strip() for ln in text.splitlines()]
    rows, used = _tables(lines, page)
    figs, fused = _figures(lines, page)
    prose = [ln if i not in used | fused else "" for i, ln in enumerate(lines)]
    facts = rows + figs + _sentence_facts(_sentences(prose), page, norm(text))
    for h in headings:
        hh = h.strip()
        if 3 <= len(hh) <= 100 and norm(hh) in norm(text):
            facts.append(Fact(page, "Layout", hh, "String", f"what is the heading of the section that begins on page {page + 1}?",
                              f"the heading of the section that begins on page {page + 1}", hh, kind="heading",
                              anchored=True))
    return _drop_ambiguous(facts)


def _drop_ambiguous(facts: list[Fact]) -> list[Fact]:
    """One fact per question: repeats with the same answer collapse to the first; conflicting answers drop all."""
    answers: dict[str, set[str]] = {}
    for f in facts:
        answers.setdefault(norm(f.ask), set()).add(norm(f.answer))
    out, seen = [], set()
    for f in facts:
        k = norm(f.ask)
        if len(answers[k]) == 1 and k not in seen:
            seen.add(k)
            out.append(f)
    return out


# ---- tables -------------------------------------------------------------------------------------------------------

def _cells(s: str) -> list[str]:
    return re.findall(_CELL, s)


def _tables(lines: list[str], page: int) -> tuple[list[Fact], set[int]]:
    facts: list[Fact] = []
    used: set[int] = set()
    i, t = 0, 0
    while i < len(lines):
        m = _ROW.match(lines[i])
        if not m or len(_cells(m.group("cells"))) < 2:
            i += 1
            continue
        j = i
        block = []
        while j < len(lines) and (mm := _ROW.match(lines[j])) and len(_cells(mm.group("cells"))) == len(_cells(m.group("cells"))):
            block.append(mm)
            j += 1
        ncol = len(_cells(m.group("cells")))
        header, hdr_idx = _header(lines, i, block, ncol)
        if header is not None and hdr_idx == i:  # the first matched row was a year header
            block = block[1:]
        # rows named by words ("Alabama", "North plant"), not a program's printout ("[3,]", "(45,55]")
        worded = all(re.search(r"[A-Za-z]{3}", b.group("label")) for b in block) and \
            (header is None or all(re.search(r"[A-Za-z]{2}|^\d{4}$", h) for h in header))
        if header is not None and len(block) >= 2 and worded:
            caption = _caption(lines, hdr_idx, j)
            used.update(range(hdr_idx, j))
            if caption is not None:
                used.add(caption[1])
            facts += _table_facts(block, header, caption[0] if caption else "", page, f"p{page}t{t}")
            t += 1
        i = j
    return facts, used


def _header(lines: list[str], i: int, block: list[re.Match], ncol: int) -> tuple[list[str] | None, int]:
    first = block[0]
    cells = _cells(first.group("cells"))
    if all(is_year(c) for c in cells):
        return cells, i
    if i == 0:
        return None, i
    h = lines[i - 1]
    toks = h.split()
    ys = [k for k, t in enumerate(toks) if is_year(t)]
    if ys and ys == list(range(ys[0], ys[-1] + 1)):
        cols = [toks[k] for k in ys] + ([" ".join(toks[ys[-1] + 1:])] if ys[-1] + 1 < len(toks) else [])
        if len(cols) == ncol:
            return cols, i - 1
    parts = [p for p in re.split(r"\s{2,}|\t", h) if p]
    if len(parts) in (ncol, ncol + 1):
        return parts[-ncol:], i - 1
    parts = []
    for t in h.split():  # "Flow (m3/s)" is one column name
        if parts and (t.startswith("(") or parts[-1].count("(") > parts[-1].count(")")):
            parts[-1] += " " + t
        else:
            parts.append(t)
    if len(parts) in (ncol, ncol + 1) and all(len(p) <= 24 for p in parts):
        return parts[-ncol:], i - 1
    return None, i


def _caption(lines: list[str], hdr: int, end: int) -> tuple[str, int] | None:
    """A 'Table N: ...' line just above the header or just below the rows."""
    for k in (hdr - 1, end, hdr - 2, end + 1):
        if 0 <= k < len(lines) and re.match(r"^(Table|Tab\.)\s*\d+", lines[k]):
            return lines[k].rstrip(". "), k
    return None


def _table_facts(block: list[re.Match], header: list[str], caption: str, page: int, tid: str) -> list[Fact]:
    m = re.match(r"^(Table|Tab\.)\s*(\d+)", caption)
    where = f"Table {m.group(2)} on page {page + 1}" if m else f"the table on page {page + 1}"
    out = []
    labels = [b.group("label").strip().rstrip(":") for b in block]
    for b, label in zip(block, labels):
        if labels.count(label) > 1:
            continue
        for col, cell in zip(header, _cells(b.group("cells"))):
            v = parse_number(cell)
            if v is None:
                continue
            col = col.strip()
            ans = fmt_number(v)
            fmt = "Integer" if v.is_integer() and "." not in cell else "Float"
            pct = " (in percent)" if cell.endswith("%") else ""
            out.append(Fact(page, "Table", ans, fmt,
                            f"according to {where}, what is the {col} value for {label}{pct}?",
                            f"the {col} value for {label} in {where}", f"{label} {b.group('cells')}", v,
                            key="col:" + col, label=label, table=tid, kind="number", anchored=True,
                            where=where, col=col))
    return out


_FIG_CAPTION = re.compile(r"^(?:Figure|Fig\.)\s*(\d+)\s*[:.]\s*(.*)$")
_SHORT_LABEL = re.compile(r"^[-+$A-Za-z0-9][\w .,%&/'()-]{0,24}$")


def _value_label_pairs(run: list[str]) -> tuple[list[str], list[str]] | None:
    def ok(vals, labs):
        return (all(re.fullmatch(_CELL, v) for v in vals) and len(set(labs)) == len(labs)
                and not any(re.fullmatch(_CELL, x) and not is_year(x) for x in labs))
    a, b = run[0::2], run[1::2]
    return (a, b) if ok(a, b) else (b, a) if ok(b, a) else None


def _figures(lines: list[str], page: int) -> tuple[list[Fact], set[int]]:
    """Bar/line chart value labels: a run of short lines alternating value and label just before a caption."""
    facts: list[Fact] = []
    used: set[int] = set()
    for i, ln in enumerate(lines):
        m = _FIG_CAPTION.match(ln)
        if not m:
            continue
        k = i
        while k > 0 and lines[k - 1] and len(lines[k - 1]) <= 25 and _SHORT_LABEL.match(lines[k - 1]):
            k -= 1
        pairs = None
        for off in range(0, i - k - 3):  # drop leading lines (a heading, a sentence end) until pairs line up
            run = lines[k + off:i]
            if len(run) % 2 == 0:
                pairs = _value_label_pairs(run)
                if pairs:
                    k += off
                    break
        if not pairs:
            continue
        vals, labs = pairs
        where = f"Figure {m.group(1)} on page {page + 1}"
        used.update(range(k, i + 1))
        for v_txt, lab in zip(vals, labs):
            v = parse_number(v_txt)
            if v is None:
                continue
            fmt = "Integer" if v.is_integer() and "." not in v_txt else "Float"
            facts.append(Fact(page, "Figure", fmt_number(v), fmt, f"according to {where}, what value is shown for {lab}?",
                              f"the value shown for {lab} in {where}", f"{m.group(0)}: {lab} = {v_txt}", v,
                              key=f"fig:p{page}f{m.group(1)}", label=lab, table=f"p{page}f{m.group(1)}",
                              kind="number", anchored=True, where=where, col=""))
    return facts, used


# ---- prose --------------------------------------------------------------------------------------------------------

_CITATION = re.compile(r"^\[\d+\]|\bpp?\.\s*\d|\bvol\.|\bet al\.|\(\d{4}[a-z]?\)[.,]|\bdoi\b|\bJournal\b|"
                       r"\bProc(?:eedings|\.)|\d+\(\d+\)|\d+\s*[-–]\s*\d+\.\s*(?:\[\d+\]|$)")


def _sentences(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs (short unterminated lines are headings), then split sentences."""
    lens = [len(x) for x in lines if x]
    if not lens:
        return []
    wide = statistics.median(lens)
    paras, cur = [], []
    for ln in lines:
        short = len(ln) < max(40, 0.6 * wide)
        if not ln or (short and ln[:1].isupper() or ln[:1].isdigit()) and short and not ln.endswith(
                (".", ",", ";", ":", "-", "!", "?")):
            if cur:  # a blank line or a heading-like line ends the paragraph; the heading stands alone
                paras.append(" ".join(cur))
                cur = []
            if ln:
                paras.append(ln)
            continue
        if cur and cur[-1].endswith("-") and ln[:1].islower():
            cur[-1] = cur[-1][:-1] + ln
        else:
            cur.append(ln)
        if short and not ln.endswith((",", ";", "-")) or re.search(r"\.{4,}", ln):
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    out = []
    for p in paras:
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", p):
            s = re.sub(r"\s+", " ", s).strip()
            if 25 <= len(s) <= 300 and s[-1] in ".!?" and s[0].isupper() and len(s.split()) >= 4 \
                    and not re.search(r"\.{4,}|https?://|@", s) and not _CITATION.search(s):
                out.append(s)
    return out


_WHO = re.compile(r"^(?P<name>[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?(?: [A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?){1,2}) "
                  r"(?P<pred>(?:was|were|is|has been|had been) (?:appointed|named|elected|promoted|hired|nominated|"
                  r"awarded|chosen|selected|made|recognised|recognized) [^;:]{3,160})\.$")


def _sentence_facts(sents: list[str], page: int, page_norm: str) -> list[Fact]:
    out: list[Fact] = []
    for s in sents:
        if _MARKER.search(s) or "•" in s:   # footnote markers, list numbers, merged bullet items: garbage
            continue
        w = _WHO.match(s)
        if w and w.group("name").split(" ")[0].lower() not in _DETERMINERS:
            out.append(Fact(page, "Text", w.group("name"), "String", f"who {w.group('pred')}?",
                            f"the person who {w.group('pred')}", s, kind="name", key="who"))
        dates = [(d.start(), d.end()) for d in _DATE.finditer(s)]
        for m in _NUM_IN_SENT.finditer(s):
            if any(a <= m.start() < b for a, b in dates):
                continue
            f = _number_fact(s, m, page, page_norm)
            if f:
                out.append(f)
        dm = _DATE.search(s)
        if dm:
            f = _cloze(s, dm.start(), dm.end(), dm.group(), "String", "date", page)
            if f:
                out.append(f)
        elif not _CODE.search(s) and not re.match(r"^\S*\d\S*\s", s):   # no code, no "Rd2pdf Convert Rd ..."
            nm = _NAME.search(s)
            if nm and not _NUM_IN_SENT.search(nm.group()):
                f = None if re.search(r" (?:of|de|van|von)$", nm.group()) else \
                    _cloze(s, nm.start(), nm.end(), nm.group(), "String", "name", page)
                if f:
                    out.append(f)
    return out


def _number_fact(s: str, m: re.Match, page: int, page_norm: str) -> Fact | None:
    before, after = s[:m.start()], s[m.end():]
    if re.match(r"^(?:\(|-\d|–\d)", after) or before.endswith(("-", "–", "/", "^")):
        return None
    if _REF_BEFORE.search(before) or (m.start() == 0 and re.match(r"^\d+(\.\d+)*\s+[A-Z]", s)):
        return None
    num = m.group("num")
    v = parse_number(num)
    if v is None:
        return None
    if re.search(r"[\d(,]\s*$", before) or re.match(r"^\s*,\s*\d", after):   # "(1,0)", "1, 2, 4": coordinates, lists
        return None
    year = (is_year(num) and v <= MAX_YEAR and not m.group("cur") and not m.group("pct")
            and not _NOT_YEAR_AFTER.match(after) and not _NOT_YEAR_BEFORE.search(before)
            and not _NOT_A_QUANTITY_AFTER.match(after))
    if year:
        return _cloze(s, m.start(), m.end(), num, "Integer", "year", page, value=v)
    fmt = "Float" if "." in num else "Integer"
    pct = bool(m.group("pct"))
    f = _templated(s, before, after, m, v, fmt, page, page_norm)
    if f:
        return f
    if len(_NUM_IN_SENT.findall(s)) > MAX_NUMBERS_CLOZE or v in (0, 1) or _CODE.search(s) \
            or _NOT_A_QUANTITY_BEFORE.search(before) or _NOT_A_QUANTITY_AFTER.match(after):   # lists of values, trivial blanks, code, identifiers
        return None
    literal = num.replace(",", "")   # as printed: "1.10" stays "1.10" (a version, not 1.1)
    return _cloze(s, m.start("num"), m.end("num"), literal, fmt, "number", page, value=v,
                  key="unit:%" if pct else "")


def _subject(subj: str, page_norm: str) -> str:
    w = subj.split(" ", 1)
    low = w[0].lower()
    if low in _DETERMINERS or re.search(rf"(?<![.!?] )(?<!^)\b{re.escape(low)}\b", page_norm.replace(norm(subj), "")):
        return low + (" " + w[1] if len(w) > 1 else "")
    return subj


def _templated(s: str, before: str, after: str, m: re.Match, v: float, fmt: str, page: int,
               page_norm: str) -> Fact | None:
    if m.group("cur"):
        before += "$"
    after_full = (m.group("pct") or "") + after
    a = _AFTER.match(after_full)
    if not a:
        return None
    unit = (a.group("unit") or "").strip()
    if unit.split(" ")[0] in _STOP_UNITS:
        return None
    pct = bool(a.group("pct"))
    r = _REPORTED.match(before)
    if r:
        cur = (r.group("cur") or "").strip()
        unit = " ".join(x for x in (cur, unit) if x)
        in_unit = " (in percent)" if pct else (f" (in {unit})" if unit else "")
        subj = _subject(r.group("subj"), page_norm)
        base = _PAST.get(r.group("verb"), "have")
        attr, rest = r.group("attr"), a.group("rest") or ""
        return Fact(page, "Text", fmt_number(v), fmt, f"what {attr} did {subj} {base}{rest}{in_unit}?",
                    f"the {attr} {subj} {r.group('verb')}{rest}{in_unit}", s, v,
                    key="attr:" + norm(attr) + (":%" if pct else ""), kind="number")
    b = _BEFORE.match(before)
    if not b:
        return None
    cur = (b.group("cur") or "").strip()
    if cur:
        unit = " ".join(x for x in (cur, unit) if x)
    subj = _subject(b.group("subj"), page_norm) if b.group("subj") else b.group("lsubj")
    rest = a.group("rest") or ""
    if b.group("year"):
        rest += f" in {b.group('year')}"
    verb = b.group("verb")
    ans = fmt_number(v)
    if verb in _COPULA:
        be = _COPULA[verb]
        in_unit = " (in percent)" if pct else (f" (in {unit})" if unit else "")
        ask = f"what {be} {subj}{rest}{in_unit}?"
        desc = f"{subj}{rest}{in_unit}"
        key = "unit:%" if pct else ("unit:" + norm(unit) if unit else "")
    else:
        if pct or cur or not unit or fmt != "Integer" or b.group("qual"):
            return None
        ask = f"how many {unit} did {subj} {_PAST[verb]}{rest}?"
        desc = f"the number of {unit} {subj} {verb}{rest}"
        key = "unit:" + norm(unit)
    return Fact(page, "Text", ans, fmt, ask, desc, s, v, key=key, kind="number")


def _cloze(s: str, start: int, end: int, answer: str, fmt: str, kind: str, page: int, value: float | None = None,
           key: str = "") -> Fact | None:
    left, right = s[:start], s[end:]
    if len(re.findall(r"[A-Za-z]{2,}", left + " " + right)) < 3:   # "Using ___.": too little left to read
        return None
    if len(left) > 110:
        left = "..." + left[-100:].split(" ", 1)[-1]
    if len(right) > 110:
        right = right[:100].rsplit(" ", 1)[0] + "..."
    blanked = f"{left}___{right}"
    return Fact(page, "Text", answer, fmt, f'what {kind} fills the blank in the sentence "{blanked}"?',
                f'the {kind} missing from "{blanked}"', s, value, key=key or f"cloze:{kind}", kind=kind)
