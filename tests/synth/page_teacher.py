"""A stand-in teacher for TeacherServer (`("fn", page_teacher)`) that reads the pages it is sent and writes one QA
pair in the teacher's JSON, the way a model would phrase it rather than the way the rules generator does.

It cannot see pixels: it reads the "Text layer of page N" parts the openai generator adds with `send_text: true`.
From those it finds facts (synth.facts, the same finder the rules use, so its answers are real values of the pages)
and words its own questions: a table cell by row and column, a sentence fact through its question body, two facts
as a list, a difference / sum / ratio / comparison with a `calculation` whose operands carry their pages, a count of
table rows above a threshold, a count of the numbered figures or tables on the pages. Deterministic per request.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from mmprolong.corpus.store import Document
from mmprolong.synth.rules import _leaks, _plain, segment_facts
from mmprolong.synth.structure import _CAPTION, _KIND
from mmprolong.synth.text import fmt_number

_PAGE_TEXT = re.compile(r"^Text layer of page (\d+):\n(.*)$", re.S)


def _pages(body: dict) -> dict[int, str]:
    out = {}
    for m in body.get("messages", []):
        if isinstance(m.get("content"), list):
            for part in m["content"]:
                if part.get("type") == "text":
                    t = _PAGE_TEXT.match(part["text"])
                    if t:
                        out[int(t.group(1))] = t.group(2)
    return out


def _task(body: dict) -> str:
    text = body["messages"][-1]["content"][-1]["text"]
    if text.startswith("Task: ask a question that needs a calculation"):
        return "reasoning"
    if "AT LEAST TWO different pages" in text:
        return "extract-multi"
    return "extract-single"


def _ask(f, page: int) -> str:
    """A teacher's wording of one fact's question, anchored to its page (1-based)."""
    if f.source == "Table":
        where = f.where.split(" on ")[0]
        return f"On page {page}, in {where}, what number is listed for {f.label} in the {f.col} column?"
    if f.source == "Figure":
        return f"On page {page}, what value does {f.where.split(' on ')[0]} give for {f.label}?"
    return f"Looking at page {page}, {f.ask}"


def _label(f) -> str:
    if f.source == "Table":
        return f"{f.label} {f.col}"
    if f.source == "Figure":
        return f"{f.where.split(' on ')[0]} {f.label}"
    return f.desc


def page_teacher(body: dict) -> dict:
    pages = _pages(body)
    task = _task(body)
    rng = random.Random(hashlib.sha256(json.dumps(body["messages"][-1]["content"][-1]).encode()
                                       + json.dumps(sorted(pages)).encode()).hexdigest())
    # a careful reader skips running headers, page numbers, list numbers, footnote markers and licence text
    shown = Document("shown", "", max(pages), "", [], [{"page": n - 1, "text": t} for n, t in sorted(pages.items())])
    facts = [f for f in _plain(shown, segment_facts(shown, (min(pages) - 1, max(pages) - 1)))
             if f.kind in ("number", "name", "date", "year") and not f.anchored or f.source in ("Table", "Figure")]
    if not facts:
        return {"error": "nothing on these pages to ask about"}   # no question: the generator rejects the reply
    facts = [f for f in facts if not _leaks(_ask(f, f.page + 1), [f.answer])]   # no answer given away
    if not facts:
        return {"error": "nothing on these pages to ask about"}
    if task == "extract-single":
        f = rng.choice(facts)
        return _one(f)
    if task == "extract-multi":
        a = rng.choice(facts)
        others = [g for g in facts if g.page != a.page and g.answer != a.answer] or \
            [g for g in facts if g is not a and g.answer != a.answer]
        if not others:
            return _one(a)
        others = [g for g in others if not _leaks(_desc(a) + _desc(g), [a.answer, g.answer])]
        if not others:
            return _one(a)
        b = rng.choice(others)
        a, b = sorted([a, b], key=lambda f: f.page)
        q = (f"On pages {a.page + 1} and {b.page + 1}, what are {_desc(a)} and {_desc(b)}? "
             f"Give both, in that order.")
        return {"question": q, "answer": [a.answer, b.answer], "answer_format": "List",
                "evidence": f"Page {a.page + 1}: {a.span}. Page {b.page + 1}: {b.span}.",
                "evidence_pages": [a.page + 1, b.page + 1], "evidence_sources": sorted({a.source, b.source})}
    return _reasoning(facts, pages, rng) or {"error": "no calculation these pages support"}


def _desc(f) -> str:
    return f"{f.desc} (page {f.page + 1})" if not f.anchored else f.desc


def _one(f) -> dict:
    return {"question": _ask(f, f.page + 1), "answer": f.answer, "answer_format": f.fmt,
            "evidence": f"Page {f.page + 1}: {f.span}.", "evidence_pages": [f.page + 1],
            "evidence_sources": [f.source]}


def _reasoning(facts, pages: dict[int, str], rng: random.Random) -> dict | None:
    nums = [f for f in facts if f.numeric]
    options = []
    groups: dict = {}
    for f in nums:
        if f.table and f.source == "Table":
            groups.setdefault((f.table, f.col), []).append(f)
    tables = [g for g in groups.values() if len(g) >= 3]
    if tables:
        options.append("count_gt")
    caps: dict[str, list] = {}
    for n, t in sorted(pages.items()):
        for m in _CAPTION.finditer(t):
            caps.setdefault(_KIND[m.group("kind")], []).append((n, m.group("kind"), m.group("num")))
    caps = {k: v for k, v in caps.items() if 2 <= len(v) <= 12 and len({c[2] for c in v}) == len(v)}
    if caps:
        options.append("captions")
    by_key: dict = {}
    for f in nums:
        if f.key and not f.key.startswith("cloze:"):
            by_key.setdefault(f.key, []).append(f)
    pairs = [g for g in by_key.values() if len({x.answer for x in g}) >= 2]
    if not pairs and len({x.answer for x in nums}) >= 2:
        pairs = [nums]   # a teacher combines what numbers there are, comparable or not
    if pairs:
        options += ["difference", "sum", "ratio", "argmax"]
    subs = _subsections(pages)
    if subs:
        options.append("subsections")
    if not options:
        return None
    op = rng.choice(options)
    if op == "count_gt":
        rows = rng.choice(tables)
        vals = sorted({r.value for r in rows})
        thr = vals[rng.randrange(len(vals) - 1)] if len(vals) > 1 else vals[0]
        f = rows[0]
        n = sum(r.value > thr for r in rows)
        return {"question": f"On page {f.page + 1}, in {f.where.split(' on ')[0]}, how many rows show a {f.col} "
                            f"above {fmt_number(thr)}?", "answer": n, "answer_format": "Integer",
                "evidence": f"{f.where}: " + ", ".join(f"{r.label} {r.answer}" for r in rows) + ".",
                "evidence_pages": [f.page + 1], "evidence_sources": ["Table"],
                "calculation": {"operation": "count_gt", "threshold": thr,
                                "operands": [{"label": _label(r), "value": r.value, "page": r.page + 1}
                                             for r in rows]}}
    if op == "captions":
        kind = rng.choice(sorted(caps))
        found = caps[kind]
        first, last = min(pages), max(pages)
        return {"question": f"Across pages {first}-{last}, how many numbered {kind}s are there?",
                "answer": len(found), "answer_format": "Integer",
                "evidence": "; ".join(f"page {n}: {k} {num}" for n, k, num in found) + ".",
                "evidence_pages": sorted({n for n, _, _ in found}), "evidence_sources": [kind.capitalize()],
                "calculation": {"operation": "count", "threshold": None,
                                "operands": [{"label": f"{k} {num}", "value": float(num.split('.')[-1]), "page": n}
                                             for n, k, num in found]}}
    if op == "subsections":
        parent, kids = rng.choice(subs)
        return {"question": f'How many subsections does the section "{parent}" have?', "answer": len(kids),
                "answer_format": "Integer", "evidence": "; ".join(f"page {n}: {h}" for n, h in kids) + ".",
                "evidence_pages": sorted({n for n, _ in kids}), "evidence_sources": ["Layout"],
                "calculation": {"operation": "count", "threshold": None,
                                "operands": [{"label": h, "value": i + 1, "page": n}
                                             for i, (n, h) in enumerate(kids)]}}
    g = rng.choice(pairs)
    a = rng.choice(g)
    b = rng.choice([x for x in g if x.answer != a.answer])
    a, b = sorted([a, b], key=lambda f: (f.page, f.answer))
    pa, pb = a.page + 1, b.page + 1
    operands = [{"label": _label(a), "value": a.value, "page": pa}, {"label": _label(b), "value": b.value, "page": pb}]
    integral = a.fmt == b.fmt == "Integer"
    fmt = "Integer" if integral else "Float"
    scope = f"On page {pa}" if pa == pb else f"Using pages {pa} and {pb}"
    if op == "difference":
        q, ans = f"{scope}, how much larger is {a.desc} than {b.desc}?", fmt_number(a.value - b.value)
    elif op == "sum":
        q, ans = f"{scope}, what do {a.desc} and {b.desc} add up to?", fmt_number(a.value + b.value)
    elif op == "ratio" and b.value:
        q, ans, fmt = (f"{scope}, what is {a.desc} divided by {b.desc}, to two decimal places?",
                       fmt_number(round(a.value / b.value, 2)), "Float")
    else:
        op = "max"
        win = a if a.value >= b.value else b
        q, ans, fmt = f"{scope}, which is greater: {a.desc} or {b.desc}? Give the value.", win.answer, win.fmt
    return {"question": q, "answer": ans, "answer_format": fmt,
            "evidence": f"Page {pa}: {a.span}. Page {pb}: {b.span}.", "evidence_pages": sorted({pa, pb}),
            "evidence_sources": sorted({a.source, b.source}),
            "calculation": {"operation": op, "threshold": None, "operands": operands}}


_HEAD = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2})?)\s+(?P<title>[A-Z][^.]{2,60})$")


def _subsections(pages: dict[int, str]) -> list[tuple[str, list[tuple[int, str]]]]:
    """Numbered sections whose subsections ("4 Title", then "4.1 ...", "4.2 ...") are all on the pages shown: the
    next section ("5 ...") is shown too."""
    heads = []
    for n, t in sorted(pages.items()):
        for ln in t.splitlines():
            m = _HEAD.match(ln.strip())
            if m:
                heads.append((n, m.group("num"), ln.strip()))
    out = []
    for i, (n, num, line) in enumerate(heads):
        if "." in num:
            continue
        kids = []
        closed = False
        for m, k, kline in heads[i + 1:]:
            if "." not in k:
                closed = k == str(int(num) + 1)
                break
            if k.split(".")[0] == num and k.split(".")[1] == str(len(kids) + 1):
                kids.append((m, kline))
        if closed and 2 <= len(kids) <= 12:
            out.append((line, kids))
    return out
