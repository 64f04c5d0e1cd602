"""Near-duplicate questions within one document.

Two questions are duplicates when their normalised text is equal, or when they have the same answer and share
most of their words (Jaccard >= threshold). Template questions that differ in one word but ask for different values
("2019 value" vs "2020 value") have different answers and are kept.
"""

from __future__ import annotations

import re

from .record import QARecord
from .text import norm


def _words(q: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", norm(q)))


class Deduper:
    def __init__(self, threshold: float = 0.8, records: list[QARecord] = ()):
        self.threshold = threshold
        self._by_doc: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
        for r in records:
            self.seen(r)

    def seen(self, qa: QARecord) -> bool:
        """True when `qa` duplicates an earlier question of its document; otherwise remember it and return False."""
        key = " ".join(re.findall(r"\w+", norm(qa.question)))
        ans = norm(qa.answer)
        words = _words(qa.question)
        items = self._by_doc.setdefault(qa.doc_id, [])
        for k, a, w in items:
            if k == key:
                return True
            if a == ans and w and len(words & w) / len(words | w) >= self.threshold:
                return True
        items.append((key, ans, words))
        return False
