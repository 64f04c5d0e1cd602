"""Mixture planning: recipe + page store -> which documents make which instances (task x length bucket).

The planner reads only page sizes (no images) and computes each document's exact page tokens (image tokens after the
model's resize rule plus page markers) with the recipe's TokenCounter. Then, deterministically from the seed:

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
from dataclasses import asdict, dataclass, field

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


@dataclass
class Plan:
    docs: list[PlannedDoc]                          # round by round, store order within a round
    edges: list[int]                                # bucket edges of this plan and its report
    targets: dict[str, dict[str, int]]              # task -> bucket -> planned instances
    target_shares: dict[str, float]                 # bucket -> share the recipe asks for (or the pool gives)
    task_shares: dict[str, float]
    eligible_docs: int
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> documents left out
    planned_tokens: int = 0                         # of round 0

    @property
    def n_instances(self) -> int:
        return sum(len(d.slots) for d in self.docs)

    def digest(self) -> str:
        """Identity of the plan: a resumed build must see the same plan (same store, same recipe)."""
        blob = json.dumps([[d.doc_id, d.round, [asdict(s) for s in d.slots]] for d in self.docs],
                          separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {"digest": self.digest(), "edges": self.edges, "targets": self.targets,
                "target_shares": self.target_shares, "task_shares": self.task_shares,
                "eligible_docs": self.eligible_docs, "skipped": self.skipped, "planned_tokens": self.planned_tokens,
                "n_docs": len(self.docs), "n_instances": self.n_instances,
                "rounds": (self.docs[-1].round + 1) if self.docs else 0,
                "docs": [{"doc_id": d.doc_id, "round": d.round, "n_pages": d.n_pages, "page_tokens": d.page_tokens,
                          "slots": [asdict(s) for s in d.slots]} for d in self.docs[:MAX_LISTED]]}


def page_tokens(store: PageStore, counter: TokenCounter, page_markers: bool) -> list[tuple[str, int, int]]:
    """(doc_id, n_pages, exact page tokens) per document of the pages dataset, in store order, without images."""
    wrap = image_wrap_tokens(counter)
    image_cost: dict[tuple[int, int], int] = {}
    marker_cost: dict[int, int] = {}
    out: dict[str, list[int]] = {}
    scanner = store.pages_dataset().scanner(columns=["doc_id", "page", "image_width", "image_height"],
                                            batch_size=65536)
    for batch in scanner.to_batches():
        cols = batch.to_pydict()
        for doc_id, page, w, h in zip(cols["doc_id"], cols["page"], cols["image_width"], cols["image_height"]):
            key = (int(w), int(h))
            if key not in image_cost:
                image_cost[key] = counter.image_tokens(*key) + wrap
            cost = image_cost[key]
            if page_markers:
                if page not in marker_cost:
                    marker_cost[page] = counter.count_text(page_marker(page))
                cost += marker_cost[page]
            acc = out.setdefault(doc_id, [0, 0])
            acc[0] += 1
            acc[1] += cost
    return [(d, n, t) for d, (n, t) in out.items()]


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
    ok = set(store.doc_ids())
    skipped: dict[str, int] = defaultdict(int)
    for doc_id, nd in read_near_duplicates(store).items():
        if doc_id in ok and (nd.kind == "eval" or not keep_near_duplicates):
            ok.discard(doc_id)
            skipped[f"near-duplicate of {'an eval' if nd.kind == 'eval' else 'a kept'} document"] += 1
    store_order: dict[str, int] = {}
    info: dict[str, tuple[int, int]] = {}
    for doc_id, n_pages, tok in page_tokens(store, counter, recipe.page_markers):
        if doc_id not in ok:
            continue
        store_order[doc_id] = len(store_order)
        if not lengths.min_pages <= n_pages <= lengths.max_pages:
            skipped[f"pages outside {lengths.min_pages}-{lengths.max_pages}"] += 1
        elif needs_segment and n_pages < recipe.segment.min_pages:
            skipped[f"fewer than {recipe.segment.min_pages} pages (segment)"] += 1
        elif histogram and tok + QA_OVERHEAD < edges[0]:
            skipped[f"shorter than {edges[0]} tokens"] += 1
        else:
            info[doc_id] = (n_pages, tok)
    bucket_names = labels(edges)
    bucket_shares = dict(zip(bucket_names, lengths.bucket_shares())) if histogram else {}

    rng = random.Random(recipe.seed)
    task_counts: dict[str, int] = defaultdict(int)
    bucket_counts: dict[str, int] = defaultdict(int)
    chosen: list[PlannedDoc] = []
    planned = 0
    rnd = 0
    round_tokens = recipe.budget_tokens * BUDGET_MARGIN
    for doc_id in sorted(info, key=lambda d: _shuffle_key(recipe.seed, d)):
        n_pages, tok = info[doc_id]
        full = tok + QA_OVERHEAD
        slots = []
        for _ in range(recipe.per_document):
            task = _largest_deficit(task_shares, task_counts)
            task_counts[task] += 1
            if histogram:
                fits = [b for b, lo in zip(bucket_names, edges) if lo <= full and lo < recipe.max_length]
                bucket = _largest_deficit(bucket_shares, bucket_counts, fits)
                i = bucket_names.index(bucket)
                hi = edges[i + 1] if i + 2 == len(edges) else edges[i + 1] - 1   # [lo, hi); the top edge inclusive
                top = min(hi, recipe.max_length, full)
                low = min(edges[i] + -(-tok // n_pages), top)   # a page over the edge: windows step by pages
                max_tokens = rng.randint(low, top)
                est = min(full, max_tokens)
            else:
                max_tokens = recipe.max_length
                est = min(full, max_tokens)
                bucket = bucket_of(est, edges)
            bucket_counts[bucket] += 1
            planned += est
            slots.append(Slot(task, bucket, int(max_tokens)))
        chosen.append(PlannedDoc(doc_id, n_pages, tok, slots, rnd))
        if planned >= round_tokens * (rnd + 1):
            rnd += 1
    chosen.sort(key=lambda d: (d.round, store_order[d.doc_id]))

    targets: dict[str, dict[str, int]] = {t: {} for t in task_shares}
    for d in chosen:
        if d.round > 0:
            break
        for s in d.slots:
            targets[s.task][s.bucket] = targets[s.task].get(s.bucket, 0) + 1
    if not histogram:   # the target is the pool's own spread over buckets
        round0 = Counter(s.bucket for d in chosen if d.round == 0 for s in d.slots)
        n = sum(round0.values()) or 1
        bucket_shares = {b: c / n for b, c in sorted(round0.items())}
    round0_tokens = sum(min(d.page_tokens + QA_OVERHEAD, s.max_tokens) for d in chosen if d.round == 0
                        for s in d.slots)
    return Plan(docs=chosen, edges=edges, targets=targets, target_shares=bucket_shares, task_shares=task_shares,
                eligible_docs=len(info), skipped=dict(skipped), planned_tokens=round0_tokens)

