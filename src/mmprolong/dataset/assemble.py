"""Assembly: one QA pair put back with its FULL document, as one training instance of an exact token length.

Chat layout (`mmprolong.layout.training_messages`, the one layout module eval and the token report share; no
system message is written: the model's chat template adds its own default, e.g. Qwen2.5-VL's
"You are a helpful assistant."; Qwen3-VL adds none):

    user:      [ "Page 1:" , <image page 0> , "Page 2:" , <image page 1> , ... , "<question>" ]
    assistant: [ "<answer>" ]            (OCR tasks: the transcription)

Image parts are `{"type": "image", "page": p, "width": W, "height": H}` with `page` the 0-based document page and
W x H the stored JPEG's pixels; the optional "Page N:" text before each image uses the 1-based document page number,
the same index questions use, so a question naming "page 12" stays right inside a window. When a per-sample visual
budget lowered the pixel bound, each image part also carries `"max_pixels"`, so `TokenCounter.count_messages` of the
stored messages gives the stored `n_tokens` with no other input.

Lengths are exact: `n_tokens` is `TokenCounter.count_messages` of the whole sample (user and assistant turns).
A document longer than `max_length` is cut to a contiguous page window (never inside an image) that holds the QA's
segment when it fits, else at least its evidence pages; the window is placed so that the evidence sits at a random
(seeded) depth, and the depth reached is recorded: tokens of window pages before the first evidence page divided by
the window's tokens outside the evidence span (0 = evidence first, 1 = evidence last).
With `visual_budget`, the pixel bound of every page is lowered first (binary search over max_pixels) so the whole
document fits; only if it cannot, even at `min_page_pixels`, is the document windowed at that bound.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Callable

from ..corpus.store import Document
from ..layout import page_marker, training_messages
from ..synth.record import QARecord
from ..tokens import TokenCounter
from ..tokens.counter import image_wrap_tokens  # noqa: F401 - re-exported (planner, tests)

OCR_FULL_QUESTION = ("Transcribe the text of every page above exactly, in order. Start each page with a line "
                     "'### Page N' (N the page number).")


@dataclass
class Sample:
    """A row of schema.SAMPLES (less recipe_hash and bucket, which the build adds)."""

    sample_id: str
    doc_id: str
    qa_id: str
    task: str
    pages: list[int]
    messages: list[dict]
    images: list[bytes]
    image_sizes: list[list[int]]
    max_pixels: int
    target: str
    n_tokens: int
    n_image_tokens: int
    depth: float | None
    windowed: bool

    def to_row(self, bucket: str, recipe_hash: str) -> dict:
        return {"sample_id": self.sample_id, "doc_id": self.doc_id, "qa_id": self.qa_id, "task": self.task,
                "pages": self.pages, "messages": json.dumps(self.messages, ensure_ascii=False),
                "images": self.images, "image_sizes": self.image_sizes, "max_pixels": self.max_pixels,
                "target": self.target, "n_tokens": self.n_tokens, "n_image_tokens": self.n_image_tokens,
                "depth": self.depth, "bucket": bucket, "recipe_hash": recipe_hash}


@dataclass
class Rejection:
    reason: str     # short kind first ("evidence-too-long: ...") so reports can group on the part before ":"

    @property
    def kind(self) -> str:
        return self.reason.split(":", 1)[0]


def build_messages(doc: Document, pages: list[int], question: str, target: str, page_markers: bool = True,
                   max_pixels: int | None = None) -> list[dict]:
    """The chat messages of one instance (see the module docstring), laid out by the shared `layout` module."""
    return training_messages([{"page": p, "width": int(doc.pages[p]["image_width"]),
                               "height": int(doc.pages[p]["image_height"])} for p in pages],
                             question, target, page_markers, max_pixels)


class _Costs:
    """Per-page token costs (image + marker [+ target text]) at a pixel bound; additive estimates that the exact
    count of the final sample then confirms."""

    def __init__(self, doc: Document, counter: TokenCounter, page_markers: bool,
                 text_cost: Callable[[int], int] | None):
        self.doc, self.counter = doc, counter
        wrap = image_wrap_tokens(counter)
        self.fixed = [(counter.count_text(page_marker(p)) if page_markers else 0) + (text_cost(p) if text_cost else 0)
                      + wrap for p in range(len(doc.pages))]

    def at(self, max_pixels: int) -> list[int]:
        c = self.counter
        return [c.image_tokens(int(pg["image_width"]), int(pg["image_height"]), max_pixels) + f
                for pg, f in zip(self.doc.pages, self.fixed)]


def _window(cost: list[int], span: tuple[int, int], avail: int, depth: float) -> tuple[int, int]:
    """Largest contiguous window holding `span` within `avail` tokens, with about `depth` of the spare tokens
    before the span (the rest after it; spare room on one side goes to the other)."""
    a, b = span
    spare = avail - sum(cost[a:b + 1])
    used = 0
    while a > 0 and used + cost[a - 1] <= depth * spare:
        a -= 1
        used += cost[a]
    while b < len(cost) - 1 and used + cost[b + 1] <= spare:
        b += 1
        used += cost[b]
    while a > 0 and used + cost[a - 1] <= spare:
        a -= 1
        used += cost[a]
    return a, b


def _depth(cost: list[int], window: tuple[int, int], evidence: tuple[int, int]) -> float:
    a, b = window
    before = sum(cost[a:evidence[0]])
    outside = before + sum(cost[evidence[1] + 1:b + 1])
    return before / outside if outside else 0.5


def _sample_id(qa_id: str, pages: list[int], max_pixels: int) -> str:
    return hashlib.sha256(json.dumps([qa_id, pages[0], pages[-1], max_pixels]).encode()).hexdigest()[:24]


def assemble(qa: QARecord, doc: Document, counter: TokenCounter, *, max_length: int, rng: random.Random,
             page_markers: bool = True, visual_budget: bool = False, min_page_pixels: int = 200_704,
             target_fn: Callable[[list[int]], str] | None = None) -> Sample | Rejection:
    """One instance of at most `max_length` exact tokens, or a Rejection saying why none fits.

    `target_fn(pages)` makes the target from the window's pages (OCR-full: their transcription); otherwise the
    target is `qa.answer`. A QA with no evidence pages (OCR-full) gets a window at a random place and depth None.
    """
    n = len(doc.pages)
    if n == 0:
        return Rejection("empty-document: no pages")
    ev = sorted(p for p in qa.evidence_pages if 0 <= p < n)
    if len(ev) != len(qa.evidence_pages):
        return Rejection(f"bad-evidence: pages {qa.evidence_pages} outside 0..{n - 1}")
    has_evidence = bool(ev)
    draw = rng.random()                       # depth wanted (drawn even when unused, so seeds stay aligned)
    anchor = rng.randrange(n)
    evidence = (ev[0], ev[-1]) if has_evidence else (anchor, anchor)
    seg = (max(0, qa.segment[0]), min(n - 1, qa.segment[1]))
    required = (min(seg[0], evidence[0]), max(seg[1], evidence[1])) if has_evidence else evidence

    def target_of(pages: list[int]) -> str:
        return target_fn(pages) if target_fn else qa.answer

    text_cost = (lambda p: counter.count_text(target_fn([p]))) if target_fn else None
    costs = _Costs(doc, counter, page_markers, text_cost)
    base = counter.count_messages(build_messages(doc, [], qa.question, "" if target_fn else qa.answer,
                                                 page_markers)).total
    avail = max_length - base
    if avail <= 0:
        return Rejection(f"text-too-long: question and answer take {base} tokens of {max_length}")

    mp = counter.max_pixels
    cost = costs.at(mp)
    lowered = False
    if sum(cost) > avail and visual_budget:
        floor = min(min_page_pixels, mp)
        if sum(costs.at(floor)) <= avail:
            lo, hi = floor, mp                 # invariant: lo fits, hi does not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if sum(costs.at(mid)) <= avail else (lo, mid)
            mp = lo
        else:
            mp = floor
        cost, lowered = costs.at(mp), True
    window = (0, n - 1)
    if sum(cost) > avail:
        if sum(cost[required[0]:required[1] + 1]) > avail:
            required = evidence               # the segment does not fit: keep the evidence at least
        if sum(cost[required[0]:required[1] + 1]) > avail:
            return Rejection(f"evidence-too-long: pages {evidence[0] + 1}-{evidence[1] + 1} need "
                             f"{sum(cost[evidence[0]:evidence[1] + 1])} tokens, {avail} available")
        window = _window(cost, required, avail, draw)

    part_mp = mp if lowered else None
    while True:                               # exact count; drop an outer page while over (estimates are additive)
        pages = list(range(window[0], window[1] + 1))
        target = target_of(pages)
        messages = build_messages(doc, pages, qa.question, target, page_markers, part_mp)
        count = counter.count_messages(messages)
        if count.total <= max_length:
            break
        a, b = window
        if a == b or (a == required[0] and b == required[1]):
            return Rejection(f"evidence-too-long: {count.total} tokens exceed {max_length} with only the "
                             f"required pages {a + 1}-{b + 1}")
        before, after = required[0] - a, b - required[1]
        window = (a + 1, b) if (before > after or b == required[1]) and a < required[0] else (a, b - 1)
    depth = _depth(cost, window, evidence) if has_evidence else None
    return Sample(
        sample_id=_sample_id(qa.qa_id, pages, mp), doc_id=doc.doc_id, qa_id=qa.qa_id, task=qa.task, pages=pages,
        messages=messages, images=[doc.pages[p].get("image") or b"" for p in pages],
        image_sizes=[[int(doc.pages[p]["image_width"]), int(doc.pages[p]["image_height"])] for p in pages],
        max_pixels=int(mp), target=target, n_tokens=count.total, n_image_tokens=count.image_tokens,
        depth=depth, windowed=window != (0, n - 1))
