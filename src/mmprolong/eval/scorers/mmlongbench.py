"""MMLongBench's rule-based document-QA scoring (EdinburghNLP/MMLongBench, `utils.eval_docqa_score` with
`parse_output`), re-implemented from its documented behaviour; the default `--scorer mmlongbench`.

What the reference does, and this module does the same:

- Answer extraction: the text after the FIRST "Answer:" (any case), a repeated leading "Answer:" removed, stripped;
  the whole response when there is none.
- Cleaning (`clean`): lower case, strip, drop every comma, strip the unit suffixes kg, meters, acres, minutes, miles,
  mile, feet, million, thousand, billion, mm, m (each once, in that order, at the end only), one leading and one
  trailing quote, then "$", "£" and "%" from both ends.
- Integer: the gold must be an integer after cleaning; right when ANY number in the cleaned answer is that integer
  (numbers are `-?\\d+(\\.\\d*)?` or `-?\\.\\d+` after dropping commas; non-integral and non-finite numbers ignored).
- Float: right when ANY number in the cleaned answer is within 1% relative of the gold, gold/100 or gold*100.
- String and None ("Not answerable"): golds of an exact form (https:// links, .py/.ipynb files, text starting with
  lower-case "page", digit strings like 12, 12-34, 12 34, a.m./p.m. times, numeric dates, e-mail addresses) are right
  when the raw gold occurs in the raw answer (case-sensitive); every other gold is SQuAD token F1 (lower case, ASCII
  punctuation and articles removed), so "None" golds are F1 against "Not answerable".
- List: the gold is a JSON list. Its plain-string items (not numbers, not exact-form) are joined with spaces into one
  item placed first; each resulting item is scored against the WHOLE answer by the rules above (JSON numbers by their
  type; strings typed Integer when they clean to an integral number without "%", Float when they clean to another
  number, else String); the score is the mean over items.

Where the reference would crash this module raises ValueError naming the gold (an Integer gold that is not an
integer, a Float gold that is not a number, an empty list) — importers refuse such golds up front — and a gold list
written as a Python literal (MMLongBench-Doc's samples.json: "['a', 'b']") is read as that list instead of failing.
`strict=True` is the separate, documented variant `mmlongbench-strict` (see `score`), not the default.
"""

from __future__ import annotations

import ast
import json
import math
import re
import string
from collections import Counter

FORMATS = ("Integer", "Float", "String", "List", "None")
_ALIASES = {"int": "Integer", "integer": "Integer", "float": "Float", "str": "String", "string": "String",
            "list": "List", "none": "None"}
PREFIX = "Answer:"
_SUFFIXES = ("kg", "meters", "acres", "minutes", "miles", "mile", "feet", "million", "thousand", "billion", "mm", "m")
_EXACT = [re.compile(p) for p in (
    r"https://",
    r".*\.(py|ipynb)$",
    r"^page",
    r"^\d+(-\d+|\s\d+)?$",
    r"(a\.m\.|p\.m\.)",
    r"^\d{4}[-/\s]\d{1,2}[-/\s]\d{1,2}$",
    r"^\d{1,2}[-/\s]\d{1,2}[-/\s]\d{2,4}$",
    r"^\d{4}[-/\s]\d{1,2}$",
    r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
)]
_SUFFIX_RES = [re.compile(re.escape(x) + "$") for x in _SUFFIXES]
_QUOTES = re.compile(r"^['\"]|['\"]$")
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?|-?\.\d+")
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def answer_format(fmt: str | None) -> str:
    """Our / MMLongBench / MMLongBench-Doc format names (Int, Str, Integer, ...) to MMLongBench's."""
    key = (fmt or "").strip()
    if key in FORMATS:
        return key
    if key.lower() in _ALIASES:
        return _ALIASES[key.lower()]
    raise ValueError(f"unknown answer_format {fmt!r}; use one of {', '.join(FORMATS)}")


def extract_answer(response: str | None, prefix: str = PREFIX) -> str:
    """The answer part of a response: after the first `prefix` (any case), else the whole response; stripped."""
    if response is None:
        return ""
    pre = re.compile(re.escape(prefix), re.I)
    m = pre.search(response)
    text = response[m.end():].strip() if m else response.strip()
    m = pre.match(text)
    return (text[m.end():] if m else text).strip()


def clean(s) -> str:
    s = str(s).lower().strip().replace(",", "")
    for suf in _SUFFIX_RES:
        s = suf.sub("", s).strip()
    s = _QUOTES.sub("", s).strip()
    for ch in ("$", "£", "%"):
        s = s.strip().strip(ch).strip()
    return s


def needs_exact_match(gold: str) -> bool:
    return any(p.search(gold) for p in _EXACT)


def numbers(text: str) -> list[float]:
    """Every finite number in `text` (commas dropped first)."""
    out = []
    for m in _NUMBER.findall(text.replace(",", "")):
        v = float(m)
        if math.isfinite(v):
            out.append(v)
    return out


def normalize(s: str) -> str:
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def token_f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def _gold_number(gold, fmt: str) -> float:
    try:
        return float(clean(gold))
    except ValueError:
        raise ValueError(f"{fmt} gold {gold!r} is not a number") from None


def item_format(item) -> str:
    """The format a list item is scored with."""
    if isinstance(item, bool):
        return "String"
    if isinstance(item, int):
        return "Integer"
    if isinstance(item, float):
        return "Float"
    try:
        v = float(clean(item))
        return "Integer" if v == int(v) and "%" not in str(item) else "Float"
    except (ValueError, OverflowError):
        return "String"


def parse_gold_list(gold) -> list:
    """A List gold: a JSON list (MMLongBench), or a Python literal list (MMLongBench-Doc), or a list already."""
    if isinstance(gold, (list, tuple)):
        v = list(gold)
    else:
        try:
            v = json.loads(gold)
        except (json.JSONDecodeError, TypeError):
            try:
                v = ast.literal_eval(str(gold))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ValueError(f"List gold {gold!r} is not a JSON or Python list") from None
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"List gold {gold!r} is not a non-empty list")
    return [x if isinstance(x, (int, float, str)) and not isinstance(x, bool) else str(x) for x in v]


def _last_number(nums: list[float]) -> list[float]:
    return nums[-1:]


def score_answer(answer: str, gold, fmt: str, strict: bool = False) -> float:
    """Score an extracted answer against a gold of MMLongBench format `fmt`, in [0, 1]."""
    fmt = answer_format(fmt)
    if fmt == "Integer":
        g = _gold_number(gold, fmt)
        if not math.isfinite(g) or g != int(g):
            raise ValueError(f"Integer gold {gold!r} is not an integer")
        nums = numbers(clean(answer))
        if strict:
            nums = _last_number(nums)
        return float(any(int(v) == v and int(v) == int(g) for v in nums))
    if fmt == "Float":
        g = _gold_number(gold, fmt)
        nums = numbers(clean(answer))
        if strict:
            nums = _last_number(nums)
        return float(any(math.isclose(c, v, rel_tol=0.01) for v in nums for c in (g / 100, g, g * 100)))
    if fmt in ("String", "None"):
        gold = str(gold)
        if needs_exact_match(gold):
            if strict:
                return float(" ".join(gold.lower().split()) in " ".join(answer.lower().split()))
            return float(gold in answer)
        return token_f1(answer, gold)
    items = parse_gold_list(gold)
    merge = [isinstance(x, str) and item_format(x) == "String" and not needs_exact_match(x) for x in items]
    merged = " ".join(x for x, m in zip(items, merge) if m).strip()
    if merged:
        items = [merged] + [x for x, m in zip(items, merge) if not m]
    return sum(score_answer(answer, x, item_format(x), strict) for x in items) / len(items)


def score(response: str | None, gold, fmt: str, extract: bool = True, strict: bool = False) -> float:
    """MMLongBench's doc-QA score of a raw model response (`extract=False`: `response` is the answer already).

    strict=True (`--scorer mmlongbench-strict`, documented, not the default): where we believe the reference is too
    lenient — Integer/Float read only the LAST number of the answer (the reference credits any number, so "3, 5 or 8"
    is right for 3, 5 and 8), and exact-form golds match case- and whitespace-insensitively ("Page 5" for "page 5").
    Everything else is the same.
    """
    ans = extract_answer(response) if extract else (response or "").strip()
    return score_answer(ans, gold, fmt, strict)


def check_gold(gold, fmt: str) -> str | None:
    """Why MMLongBench's scorer cannot score this gold (None when it can): importers refuse such items."""
    try:
        score_answer("", gold, fmt)
    except ValueError as e:
        return str(e)
    return None
