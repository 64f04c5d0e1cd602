"""The per-document stage of a build: segments -> generate -> verify -> dedupe -> assemble, for one document.

A plain function over one document (wrapped in a picklable `DocumentJob` for the executors): it returns rows for the
shards, the kept QA and the rejections, and never raises for a bad document (the failure becomes a rejection row).
Its randomness comes from `random.Random(f"{seed}:{doc_id}")`, so a document gives the same rows whichever worker,
executor or resumed run processes it.
"""

from __future__ import annotations

import functools
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from ..corpus.store import Document
from ..recipe import QA_TASKS, Recipe
from ..synth.record import QARecord
from .assemble import OCR_FULL_QUESTION, Rejection, assemble
from .buckets import bucket_of

REJECTION_FIELDS = ("qa_id", "doc_id", "task", "segment_first", "segment_last", "question", "answer",
                    "answer_format", "evidence_pages", "evidence_sources", "evidence", "generator", "checks_passed",
                    "checks_failed")


@dataclass
class DocResult:
    """What one document gave: rows for shards/, qa/ and rejected/."""

    doc_id: str
    samples: list[dict] = field(default_factory=list)
    qa: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    verifier: Counter = field(default_factory=Counter)   # model verification usage (synth.verifier.USAGE_KEYS)
    # generations in slot order: None = the generator answered; else a failure kind ("timeout", "http_503",
    # "SetupError"...). A document with any failure is not committed: the build defers it and a rerun retries it.
    events: list[str | None] = field(default_factory=list)
    failure: str = ""           # the first failure, as text (redacted)
    staged: str | None = None   # where a build's worker staged the sample rows (then `samples` are light rows)

    def reject(self, reason: str, task: str, qa: QARecord | None = None) -> None:
        row = qa.to_row() if qa is not None else {k: None for k in REJECTION_FIELDS} | {
            "qa_id": "", "doc_id": self.doc_id, "task": task}
        self.rejected.append(row | {"reason": reason})


# Per-process caches, shared by the threads of the "threads" executor: the lock makes each one built once (an
# lru_cache alone may call its function twice for one key when two threads miss at once). The TokenCounter is
# read-only once built; the openai generator is thread-safe (one event loop, client and concurrency limit per
# process, see OpenAIGenerator.generate); the rules generator keeps no state.
_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _counter_unlocked(model: str, max_pixels: int | None):
    from .. import tokens

    return tokens.load(model, max_pixels=max_pixels)


def _counter(model: str, max_pixels: int | None):
    with _cache_lock:
        return _counter_unlocked(model, max_pixels)


@functools.lru_cache(maxsize=4)
def _generator_unlocked(settings_json: str):
    from ..synth import make_generator

    return make_generator(json.loads(settings_json))


def _generator(settings_json: str):
    with _cache_lock:
        return _generator_unlocked(settings_json)


@functools.lru_cache(maxsize=4)
def _verifier_unlocked(settings_json: str, page_markers: bool):
    from ..synth.verifier import make_verifier

    return make_verifier(json.loads(settings_json), page_markers)


def _verifier(recipe: Recipe):
    """The recipe's verifier model (None when `verify.kind` is none), one per process, shared by its threads."""
    if not recipe.verify.enabled:
        return None
    with _cache_lock:
        return _verifier_unlocked(recipe.verify.model_dump_json(), recipe.page_markers)


def ocr_full_qa(doc: Document) -> QARecord:
    return QARecord(doc_id=doc.doc_id, task="ocr-full", segment=(0, len(doc.pages) - 1), question=OCR_FULL_QUESTION,
                    answer="", answer_format="String", evidence_pages=[], evidence_sources=["Text"],
                    generator="ocr-full")


SEGMENT_TRIES = 3   # segments tried for a slot's own task before the document's other tasks are tried


def slot_attempts(task: str, recipe: Recipe, order: list[str] | None = None) -> list[str]:
    """Tasks to try, in order, until a slot has its instance: a QA task on up to SEGMENT_TRIES different segments,
    then each other QA task of the recipe once, in `order` (the build's: most short first, quota.Steer) or the
    recipe's; OCR tasks once."""
    if task not in QA_TASKS:
        return [task]
    tasks = [t for t in recipe.mixture.tasks.as_dict() if t in QA_TASKS]
    if order:
        tasks = [t for t in order if t in tasks] + [t for t in tasks if t not in order]
    others = [t for t in tasks if t != task]
    return [task] * SEGMENT_TRIES + others


def _candidates(doc: Document, task: str, recipe: Recipe, rng: random.Random, res: DocResult,
                tried: set[tuple[int, int]] | None = None) -> list[QARecord]:
    """QA candidates of one attempt (verification and dedupe follow in process_document); no candidate is recorded
    in `res` with its reason. `tried`: segments already used by this slot (another one is chosen, and added)."""
    from .. import synth

    if task == "ocr-full":
        if not any((p.get("text") or "").strip() for p in doc.pages):
            res.reject("no-text-layer: nothing to transcribe", task)
            return []
        return [ocr_full_qa(doc)]
    if task == "ocr-needle":
        return [synth.make_ocr_needle(doc, rng)]
    tried = set() if tried is None else tried
    segment = synth.choose_segment(doc, rng, recipe.segment.min_pages, recipe.segment.max_pages, avoid=tried)
    tried.add(segment)
    gen = _generator(json.dumps(recipe.generator.settings(), sort_keys=True))
    qas = gen.generate(doc, segment, task, rng)
    if not qas:
        res.reject(f"no-qa: the generator wrote no {task} pair for pages {segment[0] + 1}-{segment[1] + 1}", task)
    return qas


def _fill(slot, task: str, candidates: list[QARecord], doc: Document, recipe: Recipe, recipe_hash: str,
          edges: list[int], counter, rng: random.Random, deduper, res: DocResult, verifier=None) -> bool:
    """Verify, dedupe and assemble one attempt's candidates; True when the slot got its instance."""
    from .. import synth

    made = False
    for qa in candidates:
        if task in QA_TASKS:
            qa = synth.verify(qa, doc, verifier=verifier, usage=res.verifier)
            if qa.checks_failed:
                res.reject(f"verify: {', '.join(qa.checks_failed)}", task, qa)
                continue
            if deduper.seen(qa):
                res.reject("duplicate: same question already kept for this document", task, qa)
                continue
        if made:
            res.reject("surplus: the slot already has its instance", task, qa)
            continue
        target_fn = (lambda pages: synth.ocr_full_target(doc, pages)) if task == "ocr-full" else None
        kw = dict(page_markers=recipe.page_markers, visual_budget=recipe.visual_budget,
                  min_page_pixels=recipe.min_page_pixels, target_fn=target_fn)
        out = assemble(qa, doc, counter, max_length=slot.max_tokens, rng=rng, **kw)
        if isinstance(out, Rejection) and out.kind == "evidence-too-long" and slot.max_tokens < recipe.max_length:
            # a verified pair is worth more than the planned bucket: fit it in the longest instance allowed
            out = assemble(qa, doc, counter, max_length=recipe.max_length, rng=rng, **kw)
        if isinstance(out, Rejection):
            res.reject(out.reason, task, qa)
            continue
        if verifier is not None and task in QA_TASKS and "instance" in recipe.verify.checks:
            verdict = verifier.check_instance(qa, out.messages, doc)
            res.verifier.update(verdict.usage)
            if verdict.failed:
                res.reject(f"verify: {', '.join(verdict.failed)}", task, qa)
                continue
        made = True
        row = qa.to_row()
        if task == "ocr-full":
            row |= {"answer": out.target, "evidence_pages": out.pages, "segment_first": out.pages[0],
                    "segment_last": out.pages[-1]}
        res.qa.append(row)
        res.samples.append(out.to_row(bucket_of(out.n_tokens, edges), recipe_hash))
    return made


def failure_kind(e: Exception) -> str | None:
    """The kind of a generation that failed (a transport failure or a setup error: retried on a rerun), or None
    when the generator answered and the document simply gave nothing (a rejection, kept as data)."""
    from ..synth.base import GenerationError
    from ..synth.openai_gen import is_transport

    if isinstance(e, GenerationError):
        return e.reason if is_transport(e.reason) else None
    return type(e).__name__


def process_document(doc: Document | None, slots: list, recipe: Recipe, recipe_hash: str, edges: list[int],
                     doc_id: str = "", order: list[str] | None = None) -> DocResult:
    """All planned instances of one document (see the module docstring); `order`: the fallback order of tasks
    (slot_attempts)."""
    from .. import synth

    res = DocResult(doc.doc_id if doc else doc_id)
    if doc is None:
        for s in slots:
            res.reject("missing-pages: the store has no pages for this document", s.task)
        return res
    counter = _counter(recipe.model, recipe.max_pixels)
    rng = random.Random(f"{recipe.seed}:{doc.doc_id}")
    deduper = synth.Deduper()
    verifier = _verifier(recipe)
    for slot in slots:
        tried: dict[str, set[tuple[int, int]]] = {}   # task -> segments this slot already used for it
        for task in slot_attempts(slot.task, recipe, order):   # a failed attempt is retried (see slot_attempts)
            try:
                candidates = _candidates(doc, task, recipe, rng, res, tried.setdefault(task, set()))
                if task in QA_TASKS:
                    res.events.append(None)
            except Exception as e:  # a bad document is data (a rejection); a failed request is retried later
                kind = failure_kind(e)
                if kind is None:
                    res.reject(f"generation-failed: {type(e).__name__}: {e}", task)
                    break
                res.events.append(kind)
                if not res.failure:
                    from ..redact import redact

                    res.failure = redact(str(e) if str(e).startswith(kind) else f"{kind}: {e}")[:500]
                return res
            if _fill(slot, task, candidates, doc, recipe, recipe_hash, edges, counter, rng, deduper, res, verifier):
                break
    return res


@dataclass
class DocItem:
    """What the driver sends a worker for one planned document: a few hundred bytes, never the pages. `row`: the
    document's docs row (doc_id, source, n_pages, title, sections); `location`: where its pages are
    (`PageStore.locate`: [(part file, row group)], empty when the store has no pages for it)."""

    position: int                  # the order the driver consumes results in
    index: int                     # plan index
    doc_id: str
    row: dict
    location: list
    slots: list                    # their tasks chosen by the build from the running deficit (quota.Steer)
    order: list | None = None      # the fallback order of tasks, most short first (slot_attempts)


LIGHT_FIELDS = ("qa_id", "task", "n_tokens")


def light(row: dict) -> dict:
    """What the driver needs of a staged sample row to apply the mix and budget and to cut parts."""
    return {k: row[k] for k in LIGHT_FIELDS} | {"image_bytes": sum(len(b) for b in (row.get("images") or ()))}


class DocumentJob:
    """Picklable `fn(item: DocItem)` for `mmprolong.run.map_unordered`. The worker reads its own document from the
    store (`corpus.store.read_document`: only the row groups named in the item) and runs `process_document`. With
    `staging` (a build's OUT, a folder or URL every worker can write) it keeps the images: the sample rows go to
    `parts.staged_url(staging, index)` and the result carries light rows (`light`) and `staged`; without it the
    result holds the full rows."""

    def __init__(self, recipe: Recipe, recipe_hash: str, edges: list[int], staging: str | None = None):
        self.recipe, self.recipe_hash, self.edges, self.staging = recipe, recipe_hash, edges, staging

    def __call__(self, item: DocItem) -> DocResult:
        from ..corpus.store import read_document

        doc = read_document(item.row, item.location) if item.location else None
        if doc is not None and not doc.pages:
            doc = None
        res = process_document(doc, item.slots, self.recipe, self.recipe_hash, self.edges, item.doc_id,
                               item.order)
        if any(res.events):   # not done: the build defers it, nothing of it is written
            res.samples = []
        elif res.samples and self.staging is not None:
            from .. import storage
            from .parts import STAGING, stage_samples, staged_url

            storage.makedirs(storage.join(self.staging, STAGING))
            res.staged = staged_url(self.staging, item.index)
            stage_samples(res.staged, res.samples)
            res.samples = [light(r) for r in res.samples]
        return res
