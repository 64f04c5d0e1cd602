"""The QA record that synthesis produces and assembly consumes (the `schema.QA` contract as a dataclass)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass
class QARecord:
    doc_id: str
    task: str                      # one of schema.TASKS
    segment: tuple[int, int]       # first, last page of the segment the generator saw (0-based, inclusive)
    question: str
    answer: str                    # lists: a JSON array string
    answer_format: str             # String | Integer | Float | List | None
    evidence_pages: list[int]      # 0-based document pages
    evidence_sources: list[str]    # Text | Layout | Figure | Table
    evidence: str = ""             # evidence description
    generator: str = ""
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)

    @property
    def qa_id(self) -> str:
        """Stable id from content, so reruns and resumes name the same item the same way."""
        key = json.dumps([self.doc_id, self.task, list(self.segment), self.question, self.answer], ensure_ascii=False)
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    @property
    def ok(self) -> bool:
        return not self.checks_failed

    def to_row(self) -> dict:
        d = asdict(self)
        first, last = d.pop("segment")
        return {"qa_id": self.qa_id, **d, "segment_first": first, "segment_last": last}

    @classmethod
    def from_row(cls, row: dict) -> "QARecord":
        r = {k: v for k, v in row.items() if k not in ("qa_id", "segment_first", "segment_last")}
        return cls(segment=(int(row["segment_first"]), int(row["segment_last"])), **r)
