"""Needle scoring as MMLongBench scores its MM-NIAH tasks (each on the raw response and on its text after
"Answer:", the higher kept):

- counting: the counts list is read from the response (lower-cased, articles dropped): the last "[n, n, ...]" of
  digits, else the integers of the last "[...]" that parses as JSON, else every digit run; right (1) only when its
  SUM equals the sum of the gold counts (MMLongBench's "soft_acc", a whole-answer verdict with no partial credit);
- retrieval and reasoning: substring exact match of the normalised gold in the normalised response ("sub_em").
"""

from __future__ import annotations

import json
import re

from .mmlongbench import extract_answer, normalize

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _norm_keep_punct(s: str) -> str:
    return " ".join(_ARTICLES.sub(" ", s.lower()).split())


def count_list(response: str) -> list[int]:
    t = _norm_keep_punct(response)
    m = re.findall(r"\[[\d\s,]+\]", t)
    if m:
        try:
            v = json.loads(m[-1])
            return [int(x) for x in v]
        except json.JSONDecodeError:
            pass
    m = re.findall(r"\[.*?\]", t, re.S)
    if m:
        try:
            v = json.loads(m[-1])
            out = []
            for x in v if isinstance(v, list) else []:
                try:
                    out.append(int(x))
                except (TypeError, ValueError):
                    pass
            return out
        except json.JSONDecodeError:
            pass
    return [int(x) for x in re.findall(r"\d+", t)]


def _gold_counts(gold) -> list[int]:
    v = json.loads(gold) if isinstance(gold, str) else gold
    return [int(x) for x in (v if isinstance(v, list) else [v])]


def score_counting(response: str, gold) -> float:
    g = sum(_gold_counts(gold))
    return float(any(sum(count_list(t)) == g for t in (response or "", extract_answer(response))))


def score_substring(response: str, gold: str) -> float:
    g = normalize(str(gold))
    return float(any(g in normalize(t) for t in (response or "", extract_answer(response))))


def score_needle(response: str, gold, task: str) -> float:
    return score_counting(response, gold) if task == "counting" else score_substring(response, gold)
