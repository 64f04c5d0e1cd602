"""Scorers: the rule-based document-QA scorer, classic metrics, an opt-in LLM judge, and per-length aggregation."""

from .docqa import extract_answer, is_not_answerable, parse_list, score_docqa
from .metrics import accuracy, anls, mc_accuracy, substring_exact_match

METRICS = {"docqa": None, "anls": anls, "substring": substring_exact_match, "accuracy": accuracy,
           "mc": mc_accuracy}

__all__ = ["METRICS", "accuracy", "anls", "extract_answer", "is_not_answerable", "mc_accuracy", "parse_list",
           "score_docqa", "substring_exact_match"]
