"""Document-QA scoring entry point: `score_docqa(pred, gold, answer_format)`.

Scorers (`--scorer`):
- `mmlongbench` (default): MMLongBench's rule-based doc-QA scorer, exactly (`mmlongbench.py` documents its rules).
- `mmlongbench-strict`: the same, except where we believe the reference is too lenient: Integer/Float answers are
  read from their LAST number only (the reference credits any number in the answer), and exact-form golds (links,
  dates, file names, ...) match case- and whitespace-insensitively. A separate, named scorer, never the default.
"""

from __future__ import annotations

import ast
import json
import re

from .mmlongbench import answer_format as normalize_format
from .mmlongbench import extract_answer, normalize, score, token_f1

SCORERS = ("mmlongbench", "mmlongbench-strict")
DECLINE = re.compile(r"^\W*(not answerable|unanswerable|cannot be answered|fail to answer)\b", re.I)


def score_docqa(pred: str | None, gold, answer_format: str, extract: bool = True,
                scorer: str = "mmlongbench") -> float:
    """Score one prediction in [0, 1]; `pred` is the raw response (its text after "Answer:" is scored) unless
    extract=False. ValueError for an unknown format or scorer, or a gold the scorer cannot read."""
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; use one of {', '.join(SCORERS)}")
    return score(pred, gold, normalize_format(answer_format), extract=extract, strict=scorer.endswith("-strict"))


def is_not_answerable(text: str) -> bool:
    """The answer declines ("Not answerable", "unanswerable", ...), as the prompt asks a model to write."""
    return bool(DECLINE.match(text or ""))


def parse_list(text: str) -> list[str]:
    """A list answer's items: a JSON / Python literal list, else items split on commas, semicolons or new lines."""
    t = (text or "").strip()
    m = re.search(r"\[.*\]", t, re.S)
    if m:
        for loader in (json.loads, ast.literal_eval):
            try:
                v = loader(m.group(0))
                if isinstance(v, (list, tuple)):
                    return [str(x).strip() for x in v]
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                pass
    parts = re.split(r"\s*(?:[;\n]|,(?!\d{3}\b))\s*", t.strip("[]"))
    return [p.strip().strip("'\"") for p in parts if p.strip().strip("'\"")]


__all__ = ["SCORERS", "extract_answer", "is_not_answerable", "normalize", "normalize_format", "parse_list",
           "score_docqa", "token_f1"]
