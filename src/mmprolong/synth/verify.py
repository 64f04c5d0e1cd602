"""Automatic checks on a QA record against its document (the paper only audited 100 pairs by hand).

Each check either passes (its name goes to `checks_passed`), fails (a short stable reason goes to `checks_failed`)
or does not apply and is left out of both. The rule checks stand on their own; the verifier model is a second line.

- Extracted answers: printed on the evidence pages (answer_not_in_evidence), at the question's labels there
  (answer_not_at_labels; anchor.py: the unit of the stored text holding the answer has as many of the question's
  label words as any unit holding a value of its kind; a table cell is the one at the row and column the question
  names, by the page's own table parse; a blank's sentence is printed with the answer in it), not also at those
  labels on another page of the scope (ambiguous_in_scope), not degenerate (degenerate.py: list_numbering,
  footnote_marker, page_number, running_header, boilerplate); a heading asked by where its section begins is one
  of the stored sections starting there (heading_mismatch).
- Reasoning: the `calc:` line's operands, each printed on the page it names next to its own label words
  (operand_not_in_evidence, operand_not_at_labels), and the cited operation on exactly those operands gives the
  answer at the format's rounding (recompute_mismatch); no search over other numbers of the page. Counts of
  subsections and numbered figures/tables are recounted from the stored outline and the pages' captions, and a
  count over table rows must list every row of its column (recount_mismatch). Without a calc line a reasoning
  item fails no_calculation, unless the verifier model, answering from the evidence pages alone, agrees.
- Text you can trust: an item whose evidence pages have no trustworthy text (empty, or `text_source: none`, OCR
  noise, corpus/ocr.py) fails unchecked_by_rules, unless the verifier model agrees and the recipe allows that.

Text checks read each page's text whatever its source; a passed check that read OCR text says so (":ocr").
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter

from .. import schema
from ..corpus.store import Document
from .calc import NAMED_OPS, clean_label, parse_calc
from . import anchor, degenerate
from .dedup import Deduper
from .ocr import ocr_full_target
from .record import QARecord
from .rules import _page_facts, _strip_running, running_lines
from .structure import begins_on, recount
from .tasks import EXTRACTIVE, scope_pages
from .text import contains, fmt_number, norm, number_close, numbers_in, parse_number

FAILURES = ("unknown_task", "segment_out_of_document", "no_evidence_pages", "evidence_outside_segment",
            "format_mismatch", "bad_evidence_source", "no_scope_anchor", "evidence_outside_scope",
            "answer_not_in_evidence", "operand_not_in_evidence", "recompute_mismatch", "no_calculation",
            "ocr_target_mismatch", "answer_in_question", "duplicate", "verifier_disagrees",
            "answerable_without_document", "verifier_failed", "answer_not_at_labels", "operand_not_at_labels",
            "ambiguous_in_scope", "recount_mismatch", "heading_mismatch", "unchecked_by_rules",
            *degenerate.REASONS)


def parse_list(answer: str) -> list[str] | None:
    """A List answer: a JSON array of scalars, or a comma/semicolon separated list. None when neither."""
    a = (answer or "").strip()
    if a.startswith("["):
        try:
            items = json.loads(a)
        except json.JSONDecodeError:
            return None
        if not isinstance(items, list) or any(isinstance(x, (list, dict)) or x is None for x in items):
            return None
        items = [str(x).strip() for x in items]
    else:
        items = [x.strip() for x in a.replace(";", ",").split(",")]
    return items if items and all(items) else None


def format_ok(answer: str, fmt: str) -> bool:
    a = (answer or "").strip()
    if fmt == "String":
        return bool(a)
    if fmt == "Integer":
        v = parse_number(a)
        return v is not None and v.is_integer() and "." not in a.replace(",", "")
    if fmt == "Float":
        return parse_number(a) is not None
    if fmt == "List":
        return parse_list(a) is not None
    if fmt == "None":
        return norm(a) in ("not answerable", "none", "unanswerable", "")
    return False


def _found(item: str, text: str, nums: list[float]) -> bool:
    v = parse_number(item)
    if v is not None and any(v == n for n in nums):
        return True
    return contains(text, item)


_DECIMALS_ASKED = re.compile(r"\bround(?:ed)?\s+(?:it\s+)?to\s+(?P<n>\d+|one|two|three|four|zero|no)\s+decimal", re.I)
_WORDS = {"zero": 0, "no": 0, "one": 1, "two": 2, "three": 3, "four": 4}


def _answer_matches(answer: str, fmt: str, expected: float | str, question: str = "") -> bool:
    """The answer equals the recomputed value at the format's rounding: an Integer to the unit, a Float to the
    decimals the question asks for (else the decimals the answer is written with). No relative slack: 4,211 is not
    4,210."""
    if isinstance(expected, str):
        return norm(answer).strip(" .") == norm(expected) or contains(answer, expected)
    v = parse_number(answer)
    if v is None:
        return False
    a = answer.strip().rstrip("%")
    decimals = len(a.split(".")[1]) if "." in a else 0
    m = _DECIMALS_ASKED.search(question or "")
    if m and fmt == "Float":
        asked = _WORDS.get(m.group("n").lower(), None)
        asked = int(m.group("n")) if asked is None else asked
        return abs(v - expected) <= 0.5 * 10 ** -asked + 1e-9
    rounding = 0.5 * 10 ** -decimals if fmt == "Float" else 0.5
    return abs(v - expected) <= rounding + 1e-9 * max(1.0, abs(expected))


def _trusted(page: dict | None) -> bool:
    """Text a rule can check against: present, and not marked untrustworthy at ingest (`text_source: none`)."""
    return (page is not None and (page.get("text_source") or "layer") != "none"
            and bool((page.get("text") or "").strip()))


def _page_facts_of(doc: Document, pages: list[int]) -> list:
    by = {int(p["page"]): p.get("text") or "" for p in doc.pages}
    keys = running_lines(doc)
    return [f for pg in pages for f in _page_facts(_strip_running(by.get(pg, ""), keys), pg, ())]


def _rederived(question: str, facts: list, tabular: bool | None = None) -> set[str] | None:
    """What the page's own fact finder answers to this question: a fact whose question body is the question's, or
    a table / figure cell whose row label and column header the question names. None: nothing to compare with."""
    q = norm(question)
    out = {norm(f.answer) for f in facts if norm(f.ask).rstrip("?") in q}
    if not out:
        out = {norm(f.answer) for f in facts if f.source in ("Table", "Figure") and f.label
               and contains(question, f.label)
               and (tabular if tabular is not None else re.search(r"\b(?:table|figure|row|column|chart)\b", q))
               and (contains(question, f.col) or contains(question, clean_label(f.col)) if f.col
                    else contains(question, f.where.split(" on ")[0]))}
    return out or None


def _same(answer: str, allowed: set[str]) -> bool:
    v = parse_number(answer)
    return norm(answer) in allowed or (v is not None and any(parse_number(a) == v for a in allowed))


def verify(qa: QARecord, doc: Document, deduper: Deduper | None = None, verifier=None,
           usage: Counter | None = None, shared: frozenset[str] = frozenset(),
           unchecked_if_verifier_agrees: bool = True) -> QARecord:
    """A copy of `qa` with checks_passed / checks_failed filled. With `deduper`, a passing item is registered and
    a repeat of an earlier one fails with 'duplicate'. With `verifier` (a `verifier.Verifier`), the model checks
    run too (by default only on items the rule checks kept); their request and token counts are added to
    `usage`. `shared`: boilerplate line keys of the store (`degenerate.shared_lines`). An item whose evidence
    has no trustworthy text fails `unchecked_by_rules` unless the verifier agrees and
    `unchecked_if_verifier_agrees` (the recipe's switch) allows that."""
    passed: list[str] = []
    failed: list[str] = []
    needs_calc = False
    unchecked = False

    def check(ok: bool, name: str, reason: str) -> bool:
        (passed if ok else failed).append(name if ok else reason)
        return ok

    check(qa.task in schema.TASKS, "task_known", "unknown_task")
    first, last = qa.segment
    n = doc.n_pages or len(doc.pages)
    check(0 <= first <= last < n, "segment_in_document", "segment_out_of_document")
    ev = sorted(set(int(p) for p in qa.evidence_pages))
    if check(bool(ev), "has_evidence_pages", "no_evidence_pages"):
        check(all(first <= p <= last for p in ev), "evidence_in_segment", "evidence_outside_segment")
    fmt_good = check(format_ok(qa.answer, qa.answer_format), "format_ok", "format_mismatch")
    check(all(s in schema.EVIDENCE_SOURCES for s in qa.evidence_sources), "evidence_sources_known",
          "bad_evidence_source")
    scope = scope_pages(qa.question, doc)
    if check(scope is not None, "scope_anchor", "no_scope_anchor") and ev:
        check(set(ev) <= scope, "evidence_in_scope", "evidence_outside_scope")

    by_page = {int(p["page"]): p for p in doc.pages}
    texts = {pg: (p.get("text") or "") if _trusted(p) else "" for pg, p in by_page.items()}
    ev_texts = [texts.get(p, "") for p in ev]
    ev_text = "\n".join(ev_texts)
    has_text = bool(ev) and all(t.strip() for t in ev_texts)
    # a text check that read OCR text (a scanned page, corpus/ocr.py) says so in its passed name: "...:ocr"
    ocr_src = any((by_page.get(p) or {}).get("text_source") == "ocr" for p in ev)

    def text_check(ok: bool, name: str, reason: str) -> bool:
        return check(ok, f"{name}:ocr" if ocr_src else name, reason)

    nums = numbers_in(ev_text) if has_text else []
    answered = fmt_good and qa.answer_format != "None"

    if qa.task in ("ocr-full", "ocr-needle"):
        if ev and all(p in by_page for p in ev):
            text_check(qa.answer == ocr_full_target(doc, ev), "ocr_target_matches", "ocr_target_mismatch")
    elif qa.task in EXTRACTIVE and answered:
        items = parse_list(qa.answer) if qa.answer_format == "List" else [qa.answer.strip()]
        q_nums = numbers_in(qa.question)
        check(not any(_found(x, qa.question, q_nums) for x in items if len(norm(x)) >= 2),
              "answer_not_in_question", "answer_in_question")
        if not has_text:
            unchecked = True
        elif text_check(all(_found(x, ev_text, nums) for x in items), "answer_in_evidence", "answer_not_in_evidence"):
            _extractive_checks(qa, doc, items, ev, texts, scope, shared, text_check)
    elif qa.task == "reasoning" and answered:
        expected = recount(qa.question, doc, scope)
        if expected is not None:   # a structure count: recounted from the outline / captions, whatever it lists
            a = parse_number(qa.answer)
            check(a is not None and a == expected, "recounted_from_structure", "recount_mismatch")
        calc = parse_calc(qa.evidence)
        if calc is not None:
            op_pages = [(pg - 1) if pg is not None else None for pg in (calc.pages or [None] * len(calc.operands))]
            if any(p is not None and p not in ev for p in op_pages):
                check(False, "operands_in_evidence", "operand_not_in_evidence")
            elif not has_text:
                pass   # unchecked_by_rules below
            elif calc.op in NAMED_OPS:   # counted items (headings): each label on the evidence page it names
                ok = all(contains(texts.get(pg, ""), label) for (label, _), pg in zip(calc.operands, op_pages))
                ok = ok and len({norm(label) for label, _ in calc.operands}) == len(calc.operands)
                text_check(ok, "operands_in_evidence", "operand_not_in_evidence")
            elif calc.op == "count" and expected is not None:
                pass   # captions counted from the pages above
            else:
                _operand_checks(qa, doc, calc, op_pages, ev, texts, check, text_check)
            try:
                result = calc.result()
            except (ZeroDivisionError, IndexError, TypeError, ValueError):
                result = None
            ok = result is not None and _answer_matches(qa.answer, qa.answer_format, result, qa.question)
            if not ok and isinstance(result, str):   # argmax / argmin answered with the row of a "row column" label
                rest = [x for x, _ in calc.operands if norm(x) != norm(result)]
                ok = contains(result, qa.answer) and not any(contains(x, qa.answer) for x in rest)
            if not ok and calc.op == "difference" and result is not None:
                a = parse_number(qa.answer)  # "how much more/less" is asked both ways round
                ok = a is not None and _answer_matches(fmt_number(abs(a), 6), qa.answer_format, abs(result),
                                                       qa.question)
            check(ok, "recomputed", "recompute_mismatch")
        elif expected is None:
            needs_calc = True
        if not has_text and ev:   # a page of the evidence has no text to check against, whatever else agrees
            unchecked = True

    if verifier is not None and qa.task in EXTRACTIVE + ("reasoning",) and (
            not failed or not verifier.cfg.only_if_rules_pass):
        verdict = verifier.check(qa, doc)
        passed += verdict.passed
        failed += verdict.failed
        if usage is not None:
            usage.update(verdict.usage)
        if needs_calc and verdict.agrees:
            passed.append("calculation_by_verifier")
            needs_calc = False
        if unchecked and verdict.agrees and unchecked_if_verifier_agrees and getattr(
                verifier.cfg, "unchecked_if_agrees", True):
            passed.append("checked_by_verifier_only")
            unchecked = False
    if needs_calc:
        failed.append("no_calculation")
    if unchecked:
        failed.append("unchecked_by_rules")

    if deduper is not None and not failed:
        check(not deduper.seen(qa), "unique", "duplicate")
    return dataclasses.replace(qa, checks_passed=passed, checks_failed=failed)


def _split_outside_quotes(text: str) -> list[str]:
    """`text` split at " and " where it is not inside a quoted sentence."""
    parts, start, quoted = [], 0, False
    for m in re.finditer(r'["“”]|\s+and\s+', text):
        if m.group() in '"“”':
            quoted = not quoted if m.group() == '"' else m.group() == "“"
        elif not quoted:
            parts.append(text[start:m.start()])
            start = m.end()
    return parts + [text[start:]]


def _parts(question: str, k: int) -> list[str]:
    """The question's part that asks for each of a List answer's k items ("Give A and B. Answer with a list ..."),
    or the whole question for each when it does not split that way."""
    if k == 1:
        return [question]
    head = re.split(r"(?<=[.?])\s+(?=Answer\b)", question, maxsplit=1)[0]
    head = anchor.PAGE_REF.sub(lambda m: m.group().replace(" and ", " & "), head)   # "pages 2 and 3" is one scope
    parts = _split_outside_quotes(head)
    if len(parts) == k and all(len(anchor.label_words(p)) >= 2 for p in parts):
        return parts
    return [question] * k


def _extractive_checks(qa: QARecord, doc: Document, items: list[str], ev: list[int], texts: dict[int, str],
                       scope: set[int] | None, shared: frozenset[str], text_check) -> None:
    """An extracted answer read where the question points: the section start it names, the blank it names, the
    table cell or fact the page's own parse gives, else the value closest to the question's labels; not a
    degenerate value; and not also at those labels on another page of the scope."""
    ev_texts = [texts.get(p, "") for p in ev]
    parts = _parts(qa.question, len(items))
    cloze_any = any(anchor.filled(part) is not None for part in parts)
    for x, part in zip(items, parts):   # first: a degenerate value is refused for what it is, wherever it sits
        if begins_on(part, doc) is not None:
            continue   # a heading asked by where its section begins: checked against the outline below
        why = degenerate.reason(x, ev_texts, doc, shared, in_sentence=cloze_any)
        if why:
            text_check(False, "not_degenerate", why)
            return
    text_check(True, "not_degenerate", "")
    facts = None
    ok = True
    for x, part in zip(items, parts):
        heads = begins_on(part, doc)
        if heads is not None and (part != qa.question or len(items) == 1 or norm(x).strip(" .") in heads):
            if norm(x).strip(" .") not in heads:
                text_check(False, "heading_matches_sections", "heading_mismatch")
                return
            continue
        named = {int(n) - 1 for n in re.findall(r"\(page (\d+)\)", part)} or \
            {int(n) - 1 for m in anchor.PAGE_REF.finditer(part) for n in re.findall(r"\d+", m.group())}
        fills = anchor.cloze_fills(part, [texts.get(p, "") for p in ev if p in named] or ev_texts)
        if fills is not None:
            ok = ok and anchor.flat(x) in fills
            if ok and len(fills) > 1:   # the same sentence printed with another value in its blank
                text_check(False, "unique_in_scope", "ambiguous_in_scope")
                return
            continue
        facts = _page_facts_of(doc, ev) if facts is None else facts
        again = _rederived(part, facts) if part != qa.question or len(items) == 1 else None
        if again is not None:
            ok = ok and _same(x, again)
        else:
            ok = ok and anchor.at_labels(ev_texts, x, anchor.label_words(part, items))[0]
    if not text_check(ok, "answer_at_labels", "answer_not_at_labels"):
        return
    others = sorted(p for p in (scope or set()) - set(ev) if texts.get(p, "").strip())[:80]
    if others and len(items) == 1:
        text_check(not anchor.ambiguous(qa.question, items[0], ev_texts, [texts[p] for p in others]),
                   "unique_in_scope", "ambiguous_in_scope")


def _operand_checks(qa: QARecord, doc: Document, calc, op_pages: list[int | None], ev: list[int],
                    texts: dict[int, str], check, text_check) -> None:
    """Each operand printed on its page (any evidence page when it names none) next to its own label words (those
    the question uses, else its label's), a table cell in the column its label names; a count over table rows
    lists every row of that column."""
    q_labels = anchor.label_words(qa.question)
    ok = True
    for (label, v), pg in zip(calc.operands, op_pages):
        pages = [pg] if pg is not None else ev
        ptexts = [texts.get(p, "") for p in pages]
        value = fmt_number(v, 6)
        if not any(anchor.find(t, value) for t in ptexts) and not anchor.cloze_fits(label, value, ptexts):
            text_check(False, "operands_in_evidence", "operand_not_in_evidence")
            return
        if anchor.filled(label) is not None:   # an operand named by its sentence: the value in its blank
            ok = ok and bool(anchor.cloze_fits(label, value, ptexts))
            continue
        own = anchor.label_words(label)
        words = (own & q_labels) or own or q_labels
        again = _rederived(label, _page_facts_of(doc, pages),
                           tabular=bool(re.search(r"\b(?:table|figure|row|column|chart)\b", qa.question, re.I)))
        if again is not None:
            ok = ok and _same(value, again)
        else:
            ok = ok and anchor.at_labels(ptexts, value, words, q_labels - words)[0]
    if not text_check(ok, "operands_at_labels", "operand_not_at_labels"):
        return
    if calc.op == "count_gt":
        facts = [f for f in _page_facts_of(doc, sorted({p for p in op_pages if p is not None} or set(ev)))
                 if f.table and f.source == "Table"]
        labels = [norm(x) for x, _ in calc.operands]
        groups: dict[tuple[str, str], set[str]] = {}
        for f in facts:
            groups.setdefault((f.table, f.col), set()).add(norm(clean_label(f"{f.label} {f.col}")))
        mine = [g for g in groups.values() if set(labels) & g]
        if mine:
            check(any(set(labels) == g for g in mine), "recounted_from_table", "recount_mismatch")
