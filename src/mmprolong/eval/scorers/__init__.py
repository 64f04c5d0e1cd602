"""Scorers: MMLongBench's rule-based document-QA scorer (and a strict variant), classic metrics, an opt-in LLM
judge (MMLongBench's judging semantics)."""

from .docqa import SCORERS, extract_answer, is_not_answerable, parse_list, score_docqa
from .metrics import accuracy, anls, mc_accuracy, substring_exact_match

METRICS = {"anls": anls, "substring": substring_exact_match, "accuracy": accuracy, "mc": mc_accuracy}

__all__ = ["METRICS", "SCORERS", "accuracy", "anls", "extract_answer", "is_not_answerable", "mc_accuracy",
           "parse_list", "score_docqa", "substring_exact_match"]
