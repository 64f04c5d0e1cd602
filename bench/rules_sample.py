"""Draw a sample of rules-generator QA pairs from a page store for hand grading (bench/results/rules_grading.md).

Cycles the store's documents and the three QA tasks, one segment each (synth.choose_segment, 8-15 pages), keeps the
pairs that pass verification, until `--n` pairs; prints them (source, task, question, answer, evidence).

    python bench/rules_sample.py STORE --seed 41 --n 30
"""

from __future__ import annotations

import argparse
import random

from mmprolong.corpus.store import PageStore
from mmprolong.synth import choose_segment, make_generator, verify

TASKS = ("extract-single", "extract-multi", "reasoning")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=30)
    a = ap.parse_args()
    docs = list(PageStore(a.store).iter_documents(with_images=False))
    gen = make_generator({"kind": "rules"})
    rng = random.Random(a.seed)
    items, k = [], 0
    while len(items) < a.n and k < 40 * a.n:
        d, t = docs[k % len(docs)], TASKS[(k // len(docs)) % 3]
        k += 1
        for q in gen.generate(d, choose_segment(d, rng, 8, 15), t, rng):
            q = verify(q, d)
            if not q.checks_failed:
                items.append((d.source.rsplit("/", 1)[-1], t, q))
    for i, (src, t, q) in enumerate(items[:a.n], 1):
        print(f"{i}. [{src} | {t}] Q: {q.question}\n   A: {q.answer}")


if __name__ == "__main__":
    main()
