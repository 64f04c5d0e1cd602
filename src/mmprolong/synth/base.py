"""What every generator shares: the error type, the batch item/result types and a sequential `generate_many`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..corpus.store import Document
from .record import QARecord


class GenerationError(Exception):
    """A segment produced no usable QA; `reason` is a short stable string (e.g. 'malformed_json', 'http_error')."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class GenerationItem:
    doc: Document
    segment: tuple[int, int]
    task: str
    seed: int


@dataclass
class GenerationResult:
    """One item's outcome: `records` (possibly empty) or `error` (a GenerationError reason)."""

    index: int                  # position of the item in the input
    doc_id: str
    segment: tuple[int, int]
    task: str
    records: list[QARecord] = field(default_factory=list)
    error: str | None = None
    detail: str = ""            # what the transport said (redacted), when error is a transport failure
    cached: bool = False
    item: GenerationItem | None = field(default=None, repr=False, compare=False)  # the input (its doc, to verify)


def as_item(x) -> GenerationItem:
    if isinstance(x, GenerationItem):
        return x
    doc, segment, task, seed = x
    return GenerationItem(doc, (int(segment[0]), int(segment[1])), task, int(seed))


class Generator:
    name = "generator"

    def generate(self, doc: Document, segment: tuple[int, int], task: str, rng: random.Random) -> list[QARecord]:
        raise NotImplementedError

    def generate_many(self, items: Iterable) -> Iterator[GenerationResult]:
        """Results for (doc, segment, task, seed) items; this default runs them one by one, in input order."""
        for i, x in enumerate(items):
            it = as_item(x)
            res = GenerationResult(i, it.doc.doc_id, it.segment, it.task, item=it)
            try:
                res.records = self.generate(it.doc, it.segment, it.task, random.Random(it.seed))
            except GenerationError as e:
                res.error = e.reason
            yield res

    def close(self) -> None:
        pass

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
