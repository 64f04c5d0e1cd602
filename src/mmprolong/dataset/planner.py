"""Mixture planning: recipe + page store -> which documents make which instances (task x length bucket).

The planner reads only the docs rows' page-size summaries (`page_sizes`: pixel sizes as runs in page order, written
by ingest; the pages dataset only for rows written before it), holds per-document state in numpy arrays, and computes
each document's exact page tokens (image tokens after the model's resize rule plus page markers) with the recipe's
TokenCounter. Then, deterministically from the seed:

- near-duplicates recorded by `mmprolong dedup` are left out (pool ones unless kept, eval ones always);
- documents are filtered by the length mode (pool-native: min_pages..max_pages, natural spread kept; long-biased:
  the same with 50-100 pages; histogram: any document long enough for the lowest bucket);
- they are visited in a seeded shuffle; each gets `per_document` slots; each slot gets the task furthest below its
  share (largest deficit), and in histogram mode the bucket furthest below its share among the buckets the document
  is long enough for, with a seeded token limit inside that bucket (the window assembly cuts to it);
- the shuffled documents are cut into rounds of `budget x BUDGET_MARGIN` planned tokens (the margin covers
  rejections); within a round documents are in store order, the order `PageStore.iter_documents` streams them.
  The build goes round by round and stops at the exact budget, normally within round 0: later rounds only run
  when rejections left the budget unmet, and documents past the margin of the last round needed are never read.

`Plan.targets` (task -> bucket -> planned instances of round 0) is what the data report compares the build against.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..corpus.store import PageStore
from ..recipe import QA_TASKS, Recipe
from ..tokens import TokenCounter
from .assemble import image_wrap_tokens, page_marker
from .buckets import bucket_of, default_edges, labels

BUDGET_MARGIN = 1.25   # plan this much over the budget: some slots are rejected, the build stops at the budget
MAX_LISTED = 100_000   # plan.json lists at most this many documents
QA_OVERHEAD = 128      # planned tokens of template + question + answer per instance (the build counts exactly)


@dataclass(frozen=True)
class Slot:
    """One planned instance of a document."""

    task: str
    bucket: str        # the bucket planned for (the achieved one comes from the exact count)
    max_tokens: int    # the assembly limit for this instance


@dataclass
class PlannedDoc:
    doc_id: str
    n_pages: int
    page_tokens: int   # exact tokens of all page images and markers at the recipe's pixel bound
    slots: list[Slot]
    round: int = 0


class PlannedDocs(Sequence):
    """The planned documents as compact arrays (doc_ids in one Arrow string array; pages, tokens, round and each
    slot's task, bucket and limit in numpy arrays: about 100 bytes a document); items are `PlannedDoc`s made on
    access, so a 1.5M-document plan is not 1.5M Python objects."""

    def __init__(self, doc_ids: pa.Array, n_pages: np.ndarray, tokens: np.ndarray, rounds: np.ndarray,
                 slot_task: np.ndarray, slot_bucket: np.ndarray, slot_max: np.ndarray, tasks: list[str],
                 buckets: list[str]):
        self.doc_ids, self.n_pages, self.tokens, self.rounds = doc_ids, n_pages, tokens, rounds
        self.slot_task, self.slot_bucket, self.slot_max = slot_task, slot_bucket, slot_max   # (docs, per_document)
        self.tasks, self.buckets = tasks, buckets

    def __len__(self) -> int:
        return len(self.doc_ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        slots = [Slot(self.tasks[t], self.buckets[b], int(m))
                 for t, b, m in zip(self.slot_task[i].tolist(), self.slot_bucket[i].tolist(),
                                    self.slot_max[i].tolist())]
        return PlannedDoc(self.doc_ids[i].as_py(), int(self.n_pages[i]), int(self.tokens[i]), slots,
                          int(self.rounds[i]))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None


@dataclass
class Plan:
    docs: Sequence[PlannedDoc]                      # round by round, store order within a round (PlannedDocs)
    edges: list[int]                                # bucket edges of this plan and its report
    targets: dict[str, dict[str, int]]              # task -> bucket -> planned instances
    target_shares: dict[str, float]                 # bucket -> share the recipe asks for (or the pool gives)
    task_shares: dict[str, float]
    eligible_docs: int
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> documents left out
    planned_tokens: int = 0                         # of round 0

    @property
    def n_instances(self) -> int:
        if isinstance(self.docs, PlannedDocs):
            return int(self.docs.slot_task.size)
        return sum(len(d.slots) for d in self.docs)

    def digest(self) -> str:
        """Identity of the plan: a resumed build must see the same plan (same store, same recipe). Hashed as the
        JSON list [[doc_id, round, slots], ...], streamed a document at a time."""
        h = hashlib.sha256(b"[")
        for i, d in enumerate(self.docs):
            if i:
                h.update(b",")
            h.update(json.dumps([d.doc_id, d.round, [asdict(s) for s in d.slots]], separators=(",", ":")).encode())
        h.update(b"]")
        return h.hexdigest()[:16]

    def to_json(self) -> dict:
        return {"digest": self.digest(), "edges": self.edges, "targets": self.targets,
                "target_shares": self.target_shares, "task_shares": self.task_shares,
                "eligible_docs": self.eligible_docs, "skipped": self.skipped, "planned_tokens": self.planned_tokens,
                "n_docs": len(self.docs), "n_instances": self.n_instances,
                "rounds": (self.docs[-1].round + 1) if len(self.docs) else 0,
                "docs": [{"doc_id": d.doc_id, "round": d.round, "n_pages": d.n_pages, "page_tokens": d.page_tokens,
                          "slots": [asdict(s) for s in d.slots]} for d in self.docs[:MAX_LISTED]]}


class PageCosts:
    """Exact page tokens of documents from their page-size runs (docs column `page_sizes`): the image tokens of
    each distinct pixel size (model's resize rule) plus its wrap, counted once, and the "Page N:" markers of pages
    0..n-1 as a cumulative table."""

    def __init__(self, counter: TokenCounter, page_markers: bool):
        self.counter, self.page_markers = counter, page_markers
        self.wrap = image_wrap_tokens(counter)
        self.image_cost: dict[int, int] = {}
        self.marker_cum = np.zeros(1, np.int64)

    def markers(self, n: np.ndarray) -> np.ndarray:
        """Tokens of the page markers of pages 0..n-1, per document."""
        if not self.page_markers:
            return np.zeros(len(n), np.int64)
        top = int(n.max(initial=0))
        if top >= len(self.marker_cum):
            more = [self.counter.count_text(page_marker(p)) for p in range(len(self.marker_cum) - 1, top)]
            self.marker_cum = np.concatenate([self.marker_cum, self.marker_cum[-1] + np.cumsum(more, dtype=np.int64)])
        return self.marker_cum[n]

    def of_batch(self, page_sizes: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
        """(pages, exact page tokens) per document of a `page_sizes` column."""
        offsets = np.asarray(page_sizes.offsets, dtype=np.int64)
        offsets = offsets - offsets[0]
        w, h, k = (np.asarray(a, dtype=np.int64) for a in page_sizes.flatten().flatten())
        keys = (w << 32) | h
        uniq, inverse = np.unique(keys, return_inverse=True)
        costs = np.empty(len(uniq), np.int64)
        for j, key in enumerate(uniq.tolist()):
            if key not in self.image_cost:
                self.image_cost[key] = self.counter.image_tokens(key >> 32, key & 0xFFFFFFFF) + self.wrap
            costs[j] = self.image_cost[key]
        run_tokens = np.concatenate([[0], np.cumsum(costs[inverse] * k)]).astype(np.int64)
        run_pages = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
        n = run_pages[offsets[1:]] - run_pages[offsets[:-1]]
        return n, run_tokens[offsets[1:]] - run_tokens[offsets[:-1]] + self.markers(n)


def page_tokens(store: PageStore, counter: TokenCounter, page_markers: bool
                ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(doc_ids, pages, exact page tokens) per ok document in store order, from the docs rows' page-size summaries
    (never the pages dataset, except for rows written before the summary column)."""
    costs = PageCosts(counter, page_markers)
    ids, pages, toks = [], [], []
    for batch in store.iter_summaries(("doc_id",)):
        n, t = costs.of_batch(batch.column(batch.schema.get_field_index("page_sizes")))
        ids.append(batch.column(0))
        pages.append(n)
        toks.append(t)
    doc_ids = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    return (doc_ids, np.concatenate(pages) if pages else np.zeros(0, np.int64),
            np.concatenate(toks) if toks else np.zeros(0, np.int64))


def _shuffle_key(seed: int, doc_id: str) -> str:
    return hashlib.sha256(f"{seed}:{doc_id}".encode()).hexdigest()


def _largest_deficit(shares: dict[str, float], counts: dict[str, int], allowed: list[str] | None = None) -> str:
    total = sum(counts.values()) + 1
    keys = [k for k in shares if allowed is None or k in allowed]
    return max(keys, key=lambda k: (shares[k] * total - counts.get(k, 0), shares[k]))


def make_plan(recipe: Recipe, store: PageStore, counter: TokenCounter | None = None,
              keep_near_duplicates: bool = False) -> Plan:
    """The deterministic plan for `recipe` over `store` (see the module docstring). Near-duplicate documents found
    by `mmprolong dedup` (corpus/neardup.py) are left out; `keep_near_duplicates` keeps those of pool documents
    (never those of eval documents)."""
    from ..corpus.neardup import read_near_duplicates

    counter = counter or recipe.counter()
    lengths = recipe.lengths
    histogram = lengths.mode == "histogram"
    edges = list(lengths.edges) if histogram else default_edges(recipe.max_length)
    task_shares = recipe.mixture.tasks.as_dict()
    needs_segment = any(t in QA_TASKS for t in task_shares)
    skipped: dict[str, int] = defaultdict(int)
    doc_ids, n_pages, tok = page_tokens(store, counter, recipe.page_markers)   # store order
    keep = np.ones(len(doc_ids), bool)
    near = read_near_duplicates(store)
    drop = {"eval": [d for d, nd in near.items() if nd.kind == "eval"],
            "pool": [] if keep_near_duplicates else [d for d, nd in near.items() if nd.kind != "eval"]}
    del near
    for kind, ids in drop.items():
        hit = (np.asarray(pc.is_in(doc_ids, value_set=pa.array(ids, pa.string())).to_numpy(zero_copy_only=False),
                          bool) & keep) if ids else np.zeros(len(doc_ids), bool)
        if hit.any():
            skipped[f"near-duplicate of {'an eval' if kind == 'eval' else 'a kept'} document"] += int(hit.sum())
        keep &= ~hit
    for reason, bad in ((f"pages outside {lengths.min_pages}-{lengths.max_pages}",
                         (n_pages < lengths.min_pages) | (n_pages > lengths.max_pages)),
                        (f"fewer than {recipe.segment.min_pages} pages (segment)",
                         np.full(len(keep), needs_segment) & (n_pages < recipe.segment.min_pages)),
                        (f"shorter than {edges[0]} tokens",
                         np.full(len(keep), histogram) & (tok + QA_OVERHEAD < edges[0]))):
        hit = keep & bad
        if hit.any():
            skipped[reason] += int(hit.sum())
        keep &= ~hit
    eligible = np.flatnonzero(keep)                        # store positions of the eligible documents
    bucket_names = labels(edges)
    bucket_shares = dict(zip(bucket_names, lengths.bucket_shares())) if histogram else {}
    tasks = list(task_shares)

    keys = np.empty(len(eligible), dtype="S32")            # the shuffle keys' digests, a chunk of Python at a time
    for lo in range(0, len(eligible), 65536):
        ids = doc_ids.take(pa.array(eligible[lo:lo + 65536], pa.int64())).to_pylist()
        keys[lo:lo + len(ids)] = [hashlib.sha256(f"{recipe.seed}:{d}".encode()).digest() for d in ids]
    shuffled = eligible[np.argsort(keys, kind="stable")] if len(eligible) else eligible
    del keys
    k = recipe.per_document
    n = len(shuffled)
    slot_task, slot_bucket = np.zeros((n, k), np.int16), np.zeros((n, k), np.int16)
    slot_max, rounds = np.zeros((n, k), np.int64), np.zeros(n, np.int32)
    rng = random.Random(recipe.seed)
    task_counts: dict[str, int] = defaultdict(int)
    bucket_counts: dict[str, int] = defaultdict(int)
    planned = 0
    rnd = 0
    round_tokens = recipe.budget_tokens * BUDGET_MARGIN
    bucket_index = {b: i for i, b in enumerate(bucket_names)}
    task_index = {t: i for i, t in enumerate(tasks)}
    for lo in range(0, n, 65536):                          # Python ints a chunk at a time
        chunk = shuffled[lo:lo + 65536]
        for j, (n_p, t) in enumerate(zip(n_pages[chunk].tolist(), tok[chunk].tolist()), start=lo):
            full = t + QA_OVERHEAD
            for s in range(k):
                task = _largest_deficit(task_shares, task_counts)
                task_counts[task] += 1
                if histogram:
                    fits = [b for b, e in zip(bucket_names, edges) if e <= full and e < recipe.max_length]
                    bucket = _largest_deficit(bucket_shares, bucket_counts, fits)
                    i = bucket_index[bucket]
                    hi = edges[i + 1] if i + 2 == len(edges) else edges[i + 1] - 1   # [lo, hi); the top edge inclusive
                    top = min(hi, recipe.max_length, full)
                    low = min(edges[i] + -(-t // n_p), top)   # a page over the edge: windows step by pages
                    max_tokens = rng.randint(low, top)
                    est = min(full, max_tokens)
                else:
                    max_tokens = recipe.max_length
                    est = min(full, max_tokens)
                    bucket = bucket_of(est, edges)
                bucket_counts[bucket] += 1
                planned += est
                slot_task[j, s], slot_max[j, s] = task_index[task], max_tokens
                slot_bucket[j, s] = bucket_index.setdefault(bucket, len(bucket_index))   # bucket_of: also '<1K'
            rounds[j] = rnd
            if planned >= round_tokens * (rnd + 1):
                rnd += 1
    order = np.lexsort((shuffled, rounds))                 # round by round, store order within a round
    pos = shuffled[order]
    docs = PlannedDocs(doc_ids.take(pa.array(pos, pa.int64())), n_pages[pos], tok[pos], rounds[order],
                       slot_task[order], slot_bucket[order], slot_max[order], tasks, list(bucket_index))

    first = docs.rounds == 0
    targets: dict[str, dict[str, int]] = {t: {} for t in task_shares}
    pairs = Counter(zip(docs.slot_task[first].ravel().tolist(), docs.slot_bucket[first].ravel().tolist()))
    for (ti, bi), c in pairs.items():            # first-seen order, as the documents come
        targets[tasks[ti]][docs.buckets[bi]] = c
    if not histogram:   # the target is the pool's own spread over buckets
        round0 = Counter(docs.buckets[b] for b in docs.slot_bucket[first].ravel().tolist())
        total = sum(round0.values()) or 1
        bucket_shares = {b: c / total for b, c in sorted(round0.items())}
    round0_tokens = int(np.minimum(docs.tokens[first, None] + QA_OVERHEAD, docs.slot_max[first]).sum())
    return Plan(docs=docs, edges=edges, targets=targets, target_shares=bucket_shares, task_shares=task_shares,
                eligible_docs=n, skipped=dict(skipped), planned_tokens=round0_tokens)
