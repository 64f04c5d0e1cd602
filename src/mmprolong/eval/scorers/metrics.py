"""Classic metrics: ANLS (DocVQA), substring exact match, accuracy, multiple-choice accuracy. All in [0, 1]."""

from __future__ import annotations

import re

from .docqa import extract_answer
from .docqa import normalize as _norm


def _golds(gold: str | list[str]) -> list[str]:
    return [gold] if isinstance(gold, str) else list(gold)


def anls(pred: str, gold: str | list[str], threshold: float = 0.5) -> float:
    """Average Normalised Levenshtein Similarity for one prediction: best over golds, 0 below the threshold."""
    from rapidfuzz.distance import Levenshtein  # imported here: only ANLS needs it

    p = " ".join(extract_answer(pred).lower().split())
    best = 0.0
    for g in _golds(gold):
        g = " ".join(g.lower().split())
        s = 1.0 - Levenshtein.normalized_distance(p, g)
        best = max(best, s if s >= threshold else 0.0)
    return best


def substring_exact_match(pred: str, gold: str | list[str]) -> float:
    """1 when a normalised gold occurs in the normalised response (needle retrieval's usual metric)."""
    p = f" {_norm(pred)} "
    return float(any(_norm(g) and f" {_norm(g)} " in p for g in _golds(gold)))


def accuracy(pred: str, gold: str | list[str]) -> float:
    """Exact match of the extracted answer after normalisation."""
    p = _norm(extract_answer(pred))
    return float(any(p == _norm(g) for g in _golds(gold)))


_CHOICE = re.compile(r"^\(?([A-J])\)?(?:[.):\s]|$)|\b(?i:answer|option|choice)\s*(?:is\s*)?[:：]?\s*\(?([A-J])\b")


def mc_accuracy(pred: str, gold: str) -> float:
    """Multiple choice: the chosen letter (A-J) equals the gold letter."""
    a = extract_answer(pred).strip()
    m = _CHOICE.search(a) or _CHOICE.search(pred.strip())
    letter = next((g for g in m.groups() if g), None) if m else None
    return float(letter is not None and letter.upper() == gold.strip().strip("()").upper()[:1])
