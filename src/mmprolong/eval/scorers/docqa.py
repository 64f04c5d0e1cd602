"""The rule-based long-document QA scorer (MMLongBench-Doc's rules, as the paper uses them).

- "Not answerable" (answer_format None): right only when the prediction also declines; a decline is wrong otherwise.
- Integer: exact after parsing the first number of the prediction.
- Float: within 1% relative, also against gold x100 and gold /100 (a percentage written as a fraction or not).
- String: containment of the normalised gold when it is a URL, e-mail, date, phone number or similar exact-form
  answer; otherwise token F1 (SQuAD normalisation).
- List: item by item; each gold item takes its best-scoring unused predicted item (scored by the rules above,
  the item's own type inferred), divided by max(len(gold), len(pred)) so missing and extra items both cost.
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from collections import Counter

_NA = ("not answerable", "unanswerable", "cannot be answered", "can not be answered", "cannot answer",
       "not answerable.", "no answer", "not mentioned", "not provided in the document", "fail to answer")
_NUM = re.compile(r"[-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_EXACT_FORM = [
    re.compile(r"https?://|www\.|\.(com|org|net|edu|gov|io)\b", re.I),                        # URL
    re.compile(r"^[\w.+-]+@[\w-]+\.[\w.]+$"),                                                   # e-mail
    re.compile(r"^\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$"),       # numeric date
    re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(st|nd|rd|th)?,? \d{4}$", re.I),
    re.compile(r"^\d{1,2}(st|nd|rd|th)? (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*,? \d{4}$", re.I),
    re.compile(r"^\+?[\d\s().-]{7,}$"),                                                         # phone / id
    re.compile(r"^\d{1,2}:\d{2}(\s?[ap]\.?m\.?)?$", re.I),                                      # time
]


def extract_answer(response: str) -> str:
    """The text after the last "Answer:" (the prompt asks for it), else the whole response."""
    if response is None:
        return ""
    m = list(re.finditer(r"answer\s*[:：]", response, re.I))
    out = response[m[-1].end():] if m else response
    return out.strip().strip("*").strip()


def is_not_answerable(text: str) -> bool:
    t = text.strip().lower().strip(".")
    return t in ("none", "n/a") or any(p in t for p in _NA)


def _norm(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def token_f1(pred: str, gold: str) -> float:
    p, g = _norm(pred).split(), _norm(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def _number(text: str) -> float | None:
    m = _NUM.search(text.replace("\u2212", "-"))
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def _is_exact_form(gold: str) -> bool:
    g = gold.strip()
    return any(r.search(g) for r in _EXACT_FORM)


def _squash(s: str) -> str:
    return re.sub(r"[\s'\"`]+", "", s.lower()).rstrip("./")


def score_string(pred: str, gold: str) -> float:
    if _is_exact_form(gold):
        g, p = _squash(gold), _squash(pred)
        return float(bool(g) and g in p)
    return token_f1(pred, gold)


def score_integer(pred: str, gold: str) -> float:
    g, p = _number(gold), _number(pred)
    return float(g is not None and p is not None and p == int(g) and float(int(p)) == p)


def score_float(pred: str, gold: str) -> float:
    g, p = _number(gold), _number(pred)
    if g is None or p is None:
        return 0.0
    return float(any(math.isclose(p, c, rel_tol=0.01, abs_tol=1e-9) for c in (g, g * 100, g / 100)))


def parse_list(text: str) -> list[str]:
    """A list answer: a JSON / Python literal list, else items split on commas, semicolons, newlines or 'and'."""
    t = text.strip()
    m = re.search(r"\[.*\]", t, re.S)
    if m:
        for loader in (json.loads, ast.literal_eval):
            try:
                v = loader(m.group(0))
                if isinstance(v, (list, tuple)):
                    return [str(x).strip() for x in v]
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                pass
    parts = re.split(r"\s*(?:[;\n]|,(?!\d{3}\b)|\band\b)\s*", t.strip("[]"))
    return [p.strip().strip("'\"") for p in parts if p.strip().strip("'\"")]


def _infer_format(item: str) -> str:
    s = item.strip().replace(",", "")
    if re.fullmatch(r"[-+]?\d+", s):
        return "Integer"
    if re.fullmatch(r"[-+]?\d*\.\d+%?|[-+]?\d+%", s):
        return "Float"
    return "String"


def score_list(pred: str, gold: str) -> float:
    g, p = parse_list(gold), parse_list(pred)
    if not g or not p:
        return float(not g and not p)
    used: set[int] = set()
    total = 0.0
    for gi in g:
        fmt = _infer_format(gi)
        best, best_j = 0.0, None
        for j, pj in enumerate(p):
            if j not in used:
                s = _SCALAR[fmt](pj, gi)
                if s > best:
                    best, best_j = s, j
        if best_j is not None:
            used.add(best_j)
        total += best
    return total / max(len(g), len(p))


_SCALAR = {"Integer": score_integer, "Float": score_float, "String": score_string}


def score_docqa(pred: str, gold: str, answer_format: str, extract: bool = True) -> float:
    """Score one prediction in [0, 1]; `pred` is the raw response unless extract=False."""
    ans = extract_answer(pred) if extract else (pred or "").strip()
    gold_na = answer_format == "None" or is_not_answerable(gold)
    if gold_na:
        return float(is_not_answerable(ans))
    if is_not_answerable(ans):
        return 0.0
    if answer_format == "List":
        return score_list(ans, gold)
    fn = _SCALAR.get(answer_format)
    if fn is None:
        raise ValueError(f"unknown answer_format {answer_format!r}")
    return fn(ans, gold)
