"""The quota's promise, checked over many supplies: whatever order and proportions the documents deliver their
tasks in (a task scarce, a task abundant, 2 to 5 tasks), once a build holds >= 100 instances every task's share is
within 1 point of the recipe's, at every instance count where the budget could end the build."""

from __future__ import annotations

import random

import pytest

from mmprolong.dataset.quota import MIX_TOLERANCE, Quota

SHARES = [{"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2},
          {"a": 0.5, "b": 0.3, "c": 0.2},
          {"a": 0.35, "b": 0.3, "c": 0.2, "d": 0.1, "e": 0.05},
          {"a": 0.9, "b": 0.1}]


@pytest.mark.parametrize("shares", SHARES, ids=lambda s: "/".join(f"{v:g}" for v in s.values()))
@pytest.mark.parametrize("scarce", [None, 0, -1], ids=["as-planned", "first-scarce", "last-scarce"])
def test_mix_within_one_point_from_100_instances(shares, scarce):
    tasks = list(shares)
    weights = [shares[t] for t in tasks]
    if scarce is not None:
        weights[scarce] *= 0.1       # this task succeeds ten times less often than planned
    worst = 0.0
    for seed in range(25):
        rng = random.Random(seed)
        q = Quota(shares, budget=10**12)
        for _ in range(700):
            q.take(rng.choices(tasks, weights)[0], 1)
            n = q.n
            if n >= 100:
                worst = max(worst, *(abs(q.counts.get(t, 0) / n - s) for t, s in shares.items()))
    assert worst <= MIX_TOLERANCE + 1e-12, worst
