"""Automatic checks on a QA record against its document (the paper only audited 100 pairs by hand).

Each check either passes (its name goes to `checks_passed`), fails (a short stable reason goes to `checks_failed`)
or does not apply (no text on the pages, no operands recorded) and is left out of both.

Failure reasons: unknown_task, segment_out_of_document, no_evidence_pages, evidence_outside_segment,
format_mismatch, bad_evidence_source, no_scope_anchor, evidence_outside_scope, answer_not_in_evidence,
operand_not_in_evidence, recompute_mismatch, no_calculation, ocr_target_mismatch, answer_in_question, duplicate,
and with a model `verifier` (verifier.py): verifier_disagrees, answerable_without_document, verifier_failed.

A reasoning item must be machine-checkable: a `calc:` line that recomputes its answer (operands on the evidence
pages, on the page each names when it names one; a `count_named` line's items by label on the page each names), or
two numbers quoted in its evidence description whose difference / sum / ratio gives it. Without either it fails
`no_calculation`, unless the verifier model, answering from the evidence pages alone, agrees with its answer.

Text checks read each page's text whatever its source (`text_source` layer or ocr, see corpus/ocr.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

from .. import schema
from ..corpus.store import Document
from .calc import NAMED_OPS, parse_calc
from .dedup import Deduper
from .ocr import ocr_full_target
from .record import QARecord
from .tasks import EXTRACTIVE, scope_pages
from .text import contains, fmt_number, norm, number_close, numbers_in, parse_number

FAILURES = ("unknown_task", "segment_out_of_document", "no_evidence_pages", "evidence_outside_segment",
            "format_mismatch", "bad_evidence_source", "no_scope_anchor", "evidence_outside_scope",
            "answer_not_in_evidence", "operand_not_in_evidence", "recompute_mismatch", "no_calculation",
            "ocr_target_mismatch", "answer_in_question", "duplicate", "verifier_disagrees",
            "answerable_without_document", "verifier_failed")


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


def _answer_matches(answer: str, fmt: str, expected: float | str) -> bool:
    if isinstance(expected, str):
        return norm(answer).strip(" .") == norm(expected) or contains(answer, expected)
    v = parse_number(answer)
    if v is None:
        return False
    decimals = len(answer.strip().split(".")[1]) if "." in answer.strip() else 0
    rounding = 0.5 * 10 ** -decimals if fmt == "Float" else 0.5
    return number_close(v, expected) or abs(v - expected) <= rounding + 1e-9


def _reextracted(qa: QARecord, ev_text: str, nums: list[float]) -> bool:
    """Some difference / sum / ratio of two numbers quoted in the evidence description (and present on the
    evidence pages) gives the answer."""
    a = parse_number(qa.answer)
    if a is None:
        return False
    page_nums = set(nums)
    quoted = [v for v in dict.fromkeys(numbers_in(qa.evidence)) if v in page_nums][:12]
    for i, x in enumerate(quoted):
        for y in quoted[i + 1:]:
            cands = [x - y, y - x, x + y] + ([x / y] if y else []) + ([y / x] if x else [])
            if any(_answer_matches(qa.answer, qa.answer_format, c) for c in cands):
                return True
    return False


def verify(qa: QARecord, doc: Document, deduper: Deduper | None = None, verifier=None,
           usage: Counter | None = None) -> QARecord:
    """A copy of `qa` with checks_passed / checks_failed filled. With `deduper`, a passing item is registered and
    a repeat of an earlier one fails with 'duplicate'. With `verifier` (a `verifier.Verifier`), the model checks
    run too (by default only on items the rule checks kept); their request and token counts are added to
    `usage`."""
    passed: list[str] = []
    failed: list[str] = []
    needs_calc = False

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

    texts = {int(p["page"]): p.get("text") or "" for p in doc.pages}
    ev_text = "\n".join(texts.get(p, "") for p in ev)
    has_text = bool(ev_text.strip())
    # a text check that read OCR text (a scanned page, corpus/ocr.py) says so in its passed name: "...:ocr"
    ocr_src = any((p.get("text_source") or "layer") == "ocr" for p in doc.pages if int(p["page"]) in set(ev))

    def text_check(ok: bool, name: str, reason: str) -> bool:
        return check(ok, f"{name}:ocr" if ocr_src else name, reason)

    nums = numbers_in(ev_text) if has_text else []

    if qa.task in ("ocr-full", "ocr-needle"):
        if ev and all(p in texts for p in ev):
            text_check(qa.answer == ocr_full_target(doc, ev), "ocr_target_matches", "ocr_target_mismatch")
    elif qa.task in EXTRACTIVE and has_text and fmt_good and qa.answer_format != "None":
        items = parse_list(qa.answer) if qa.answer_format == "List" else [qa.answer.strip()]
        text_check(all(_found(x, ev_text, nums) for x in items), "answer_in_evidence", "answer_not_in_evidence")
    if qa.task in EXTRACTIVE and fmt_good and qa.answer_format != "None":
        items = parse_list(qa.answer) if qa.answer_format == "List" else [qa.answer.strip()]
        q_nums = numbers_in(qa.question)
        check(not any(_found(x, qa.question, q_nums) for x in items if len(norm(x)) >= 2),
              "answer_not_in_question", "answer_in_question")
    elif qa.task == "reasoning":
        calc = parse_calc(qa.evidence)
        if calc is not None:
            if calc.op in NAMED_OPS:   # counted items (headings): each label on the evidence page it names
                ok = all(pg - 1 in ev and contains(texts.get(pg - 1, ""), label)
                         for (label, _), pg in zip(calc.operands, calc.pages))
                ok = ok and len({norm(label) for label, _ in calc.operands}) == len(calc.operands)
                text_check(ok, "operands_in_evidence", "operand_not_in_evidence")
            elif has_text:
                ok = all(any(number_close(v, x, rel=1e-9) for x in nums) for _, v in calc.operands)
                for (_, v), pg in zip(calc.operands, calc.pages or []):
                    if ok and pg is not None and texts.get(pg - 1, "").strip():
                        ok = pg - 1 in ev and any(number_close(v, x, rel=1e-9) for x in numbers_in(texts[pg - 1]))
                text_check(ok, "operands_in_evidence", "operand_not_in_evidence")
            try:
                expected = calc.result()
            except (ZeroDivisionError, IndexError, TypeError, ValueError):
                expected = None
            ok = expected is not None and fmt_good and _answer_matches(qa.answer, qa.answer_format, expected)
            if not ok and calc.op == "difference" and expected is not None and fmt_good:
                a = parse_number(qa.answer)  # "how much more/less" is asked both ways round
                ok = a is not None and _answer_matches(fmt_number(abs(a), 6), qa.answer_format, abs(expected))
            check(ok, "recomputed", "recompute_mismatch")
        elif has_text and fmt_good and qa.answer_format in ("Integer", "Float") and _reextracted(qa, ev_text, nums):
            passed.append("recomputed_from_evidence")
        else:
            needs_calc = True

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
    if needs_calc:
        failed.append("no_calculation")

    if deduper is not None and not failed:
        check(not deduper.seen(qa), "unique", "duplicate")
    return dataclasses.replace(qa, checks_passed=passed, checks_failed=failed)
