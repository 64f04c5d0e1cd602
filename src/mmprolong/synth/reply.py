"""Turn a teacher's JSON reply into QA records (1-based pages -> 0-based; the calculation -> a `calc:` line).

Raises GenerationError with a stable reason when the reply is not the object asked for: malformed_json,
missing_field, bad_answer_format, bad_evidence_pages, bad_calculation. Whether the QA is *right* is verify()'s job.
"""

from __future__ import annotations

import json
import re

from .base import GenerationError
from .calc import OPS, calc_line
from .record import QARecord
from .text import fmt_number

_FORMATS = {"string": "String", "str": "String", "text": "String", "integer": "Integer", "int": "Integer",
            "float": "Float", "number": "Float", "list": "List", "none": "None"}
_SOURCES = {"text": "Text", "table": "Table", "layout": "Layout", "figure": "Figure", "chart": "Figure",
            "image": "Figure"}


def _json_objects(content: str) -> list[dict]:
    s = (content or "").strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", s, re.S)
    if fence:
        s = fence.group(1).strip()
    try:
        data = json.loads(s)
    except json.JSONDecodeError:
        a, b = s.find("{"), s.rfind("}")
        if a < 0 or b <= a:
            raise GenerationError("malformed_json", s[:80]) from None
        try:
            data = json.loads(s[a:b + 1])
        except json.JSONDecodeError:
            raise GenerationError("malformed_json", s[:80]) from None
    if isinstance(data, dict) and isinstance(data.get("qa"), list):
        data = data["qa"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(x, dict) for x in items):
        raise GenerationError("malformed_json", "expected a JSON object")
    return items


def _answer(v) -> str:
    if isinstance(v, list):
        return json.dumps([_answer(x) for x in v], ensure_ascii=False)
    if isinstance(v, bool):
        return "Yes" if v else "No"
    if isinstance(v, (int, float)):
        return fmt_number(float(v), 6)
    if v is None:
        raise GenerationError("missing_field", "answer")
    return str(v).strip()


def _calc(c) -> str:
    if c in (None, "", {}):
        return ""
    try:
        op = str(c["operation"]).strip().lower()
        operands = [(str(o.get("label", f"x{i}")), float(str(o["value"]).replace(",", "").rstrip("%")))
                    for i, o in enumerate(c["operands"])]
        pages = [int(str(o["page"]).lower().replace("page", "").strip()) if o.get("page") not in (None, "") else None
                 for o in c["operands"]]
        thr = c.get("threshold")
        thr = float(thr) if thr not in (None, "") else None
        if op not in OPS or not operands:
            raise ValueError(op)
        return calc_line(op, operands, thr if op == "count_gt" else None, pages)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise GenerationError("bad_calculation", json.dumps(c)[:80]) from None


def parse_reply(content: str, doc_id: str, segment: tuple[int, int], task: str, generator: str) -> list[QARecord]:
    out = []
    for d in _json_objects(content):
        for k in ("question", "answer", "answer_format", "evidence_pages"):
            if k not in d or d[k] in (None, "", []):
                raise GenerationError("missing_field", k)
        fmt = _FORMATS.get(str(d["answer_format"]).strip().lower())
        if fmt is None:
            raise GenerationError("bad_answer_format", str(d["answer_format"])[:40])
        pages = d["evidence_pages"]
        pages = pages if isinstance(pages, list) else [pages]
        try:
            pages0 = sorted({int(str(p).lower().replace("page", "").strip()) - 1 for p in pages})
        except ValueError:
            raise GenerationError("bad_evidence_pages", json.dumps(pages)[:80]) from None
        srcs = d.get("evidence_sources") or []
        srcs = srcs if isinstance(srcs, list) else [srcs]
        srcs = sorted({_SOURCES.get(str(s).strip().lower(), str(s).strip()) for s in srcs})
        evidence = str(d.get("evidence") or "").strip()
        calc = _calc(d.get("calculation")) if task == "reasoning" else ""
        out.append(QARecord(doc_id=doc_id, task=task, segment=(int(segment[0]), int(segment[1])),
                            question=str(d["question"]).strip(), answer=_answer(d["answer"]), answer_format=fmt,
                            evidence_pages=pages0, evidence_sources=srcs,
                            evidence=(evidence + (" " + calc if calc else "")).strip(), generator=generator))
    return out
