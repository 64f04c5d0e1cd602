"""Build long-document QA eval sets at exact token lengths (8K ... 512K), as the paper did for 256K/512K.

Per QA item and target length T (prompt included, generation prompt included, never above T):
- gold document shorter than the budget: keep it whole and pad alternately left and right with randomly drawn
  negative documents (whole documents, then whole pages of the next ones) until no further page fits;
- longer: keep a page window around the evidence, grown one page at a time alternately left and right.
Pages are costed once (PageCatalog), assembled by arithmetic, and verified with one `count_messages`.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..units import parse_length  # noqa: F401 - re-exported (eval.parse_length)
from .catalog import PageCatalog
from .instance import EvalInstance, write_instances
from .qaset import QAItem

DEFAULT_LENGTHS = (8192, 16384, 32768, 65536, 131072, 262144, 524288)


@dataclass
class Skip:
    qa_id: str
    target: int
    reason: str


class NegativePool:
    """Random negative documents, drawn without replacement; reshuffled (reused) only when the pool runs out."""

    def __init__(self, doc_ids: list[str], rng: random.Random):
        self.ids, self.rng, self.order, self.shuffles = sorted(doc_ids), rng, [], 0

    def draw(self) -> str | None:
        if not self.ids:
            return None
        if not self.order:
            self.shuffles += 1
            self.order = self.ids[:]
            self.rng.shuffle(self.order)
        return self.order.pop()


def _window(costs: list[int], lo: int, hi: int, budget: int) -> tuple[int, int] | None:
    """Grow [lo, hi] alternately left and right while whole pages fit in the budget."""
    used = sum(costs[lo:hi + 1])
    if used > budget:
        return None
    left_turn = True
    can_l, can_r = lo > 0, hi < len(costs) - 1
    while can_l or can_r:
        if (left_turn and can_l) or not can_r:
            if used + costs[lo - 1] <= budget:
                lo -= 1
                used += costs[lo]
                can_l = lo > 0
            else:
                can_l = False
        else:
            if used + costs[hi + 1] <= budget:
                hi += 1
                used += costs[hi]
                can_r = hi < len(costs) - 1
            else:
                can_r = False
        left_turn = not left_turn
    return lo, hi


def assemble(item: QAItem, target: int, cat: PageCatalog, negatives: list[str], seed: int = 0
             ) -> EvalInstance | Skip:
    """One instance of `item` at `target` tokens (see module doc)."""
    from .scorers.mmlongbench import check_gold

    why = check_gold(item.answer, item.answer_format)
    if why is not None:
        return Skip(item.qa_id, target, f"gold cannot be scored: {why}")
    gold = cat.docs.get(item.doc_id)
    if gold is None:
        return Skip(item.qa_id, target, f"gold document {item.doc_id[:12]} not in the page store")
    bad = [p for p in item.evidence_pages if not 0 <= p < len(gold.pages)]
    if bad:
        return Skip(item.qa_id, target, f"evidence pages {bad} outside the document ({len(gold.pages)} pages)")
    name = cat.doc_name(item.doc_id)
    budget = target - cat.overhead(item.question, name)
    rng = random.Random(f"{seed}:{item.qa_id}:{target}")
    ev = sorted(set(item.evidence_pages))
    left: list[dict] = []
    right: list[dict] = []
    if gold.total <= budget:
        core = [gold.item(i) for i in range(len(gold.pages))]
        used = gold.total
        pool = NegativePool([d for d in negatives if d != item.doc_id], rng)
        on_left, full = True, {True: False, False: False}
        while not (full[True] and full[False]):
            if full[on_left]:
                on_left = not on_left
            neg_id = pool.draw()
            if neg_id is None:
                break
            neg = cat.docs[neg_id]
            if used + neg.total <= budget:
                items = [neg.item(i) for i in range(len(neg.pages))]
                used += neg.total
            else:  # whole pages of this document, taken next to the content, then this side is full
                order = range(len(neg.pages) - 1, -1, -1) if on_left else range(len(neg.pages))
                items = []
                for i in order:
                    if used + neg.costs[i] > budget:
                        break
                    used += neg.costs[i]
                    items.append(neg.item(i))
                if on_left:
                    items.reverse()
                full[on_left] = True
            if on_left:
                left = items + left
            else:
                right = right + items
            on_left = not on_left
        context = left + core + right
        first_ev = len(left) + (ev[0] if ev else 0)
    else:
        if ev:
            lo, hi = ev[0], ev[-1]
        else:
            lo = hi = len(gold.pages) // 2
        win = _window(gold.costs, lo, hi, budget)
        if win is None:
            return Skip(item.qa_id, target, "evidence span alone is longer than the target")
        context = [gold.item(i) for i in range(win[0], win[1] + 1)]
        first_ev = (ev[0] - win[0]) if ev else (len(gold.pages) // 2 - win[0])
    # verify exactly; drop outermost non-evidence items in the rare case arithmetic was off (labels merging)
    n = cat.count(context, item.question, name)
    while n > target:
        last_ev = first_ev + (ev[-1] - ev[0] if ev else 0)
        if first_ev <= 0 and last_ev >= len(context) - 1:
            return Skip(item.qa_id, target, "prompt with evidence pages is longer than the target")
        if first_ev > len(context) - 1 - last_ev:
            context.pop(0)
            first_ev -= 1
        else:
            context.pop()
        n = cat.count(context, item.question, name)
    before = sum(cat.item_cost(c) for c in context[:first_ev])
    total_ctx = sum(cat.item_cost(c) for c in context) or 1
    return EvalInstance(
        instance_id=f"{item.qa_id}@{target}", dataset=item.dataset, question=item.question, answer=item.answer,
        answer_format=item.answer_format, target_length=target, n_tokens=n, depth=round(before / total_ctx, 4),
        context=context, doc_id=item.doc_id, doc_name=name, evidence_pages=list(item.evidence_pages),
        evidence_sources=list(item.evidence_sources), qa_id=item.qa_id, kind="doc", task=item.task,
        max_pixels=cat.max_pixels)


def build_eval_set(items: list[QAItem], cat: PageCatalog, lengths: list[int], out: str | Path, seed: int = 0,
                   exclusion: str | Path | None = None, progress: bool = True, model_ref: str | None = None) -> dict:
    """Build every item at every length into folder `out`; returns the manifest. Documents used go to `exclusion`."""
    from ..run.outdir import claim

    with claim(out, "eval-set", "eval build"):   # one writer; never into a folder of another kind
        return _build_eval_set(items, cat, lengths, out, seed, exclusion, progress, model_ref)


def _build_eval_set(items: list[QAItem], cat: PageCatalog, lengths: list[int], out: str | Path, seed: int = 0,
                    exclusion: str | Path | None = None, progress: bool = True, model_ref: str | None = None) -> dict:
    from rich.progress import track

    gold_ids = {i.doc_id for i in items}
    negatives = [d for d in cat.docs if d not in gold_ids]
    instances: list[EvalInstance] = []
    skips: list[Skip] = []
    jobs = [(it, L) for it in items for L in lengths]
    it_ = track(jobs, description="building eval set") if progress else jobs
    for item, L in it_:
        r = assemble(item, L, cat, negatives, seed)
        (skips if isinstance(r, Skip) else instances).append(r)
    used = sorted({d for inst in instances for d, _ in inst.pages()})
    manifest = {
        "kind": "doc-qa", "mmprolong": __version__, "model": cat.counter.name, "model_ref": model_ref,
        "counter": cat.counter.fingerprint(), "max_pixels": cat.max_pixels, "prompt": cat.prompt.model_dump(),
        "lengths": list(lengths), "seed": seed, "datasets": dict(Counter(i.dataset for i in instances)),
        "per_length": {str(L): sum(1 for i in instances if i.target_length == L) for L in lengths},
        "skipped": [vars(s) for s in skips], "documents_used": len(used),
        # a store too small for the longest targets makes padding reuse documents; say so
        "instances_with_repeated_pages": sum(1 for i in instances if len(set(i.pages())) < len(i.pages())),
        "images": "referenced by (doc_id, page) in the page store, resolved at run time",
    }
    if exclusion:
        manifest["exclusion_added"] = add_exclusion(exclusion, used)
    write_instances(out, instances, manifest)
    return manifest


def add_exclusion(path: str | Path, doc_ids: list[str]) -> int:
    from .exclusion import add_to_exclusion
    return add_to_exclusion(path, doc_ids)
