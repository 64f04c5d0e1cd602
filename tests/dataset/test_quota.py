"""The quota's promise, checked over many supplies: whatever order and proportions the documents deliver their
tasks in (as planned, or one task twenty times scarcer than planned), once a build of up to three tasks (every
shipped recipe) holds >= 100 instances every
task's share is within 1 point of the recipe's, at every instance count where the budget could end the build.
For mixes of more than three tasks the most-short rule (which keeps the build from stalling)
can overshoot a little: measured here at most 1.25 points."""

from __future__ import annotations

import random

import pytest

from mmprolong.dataset.quota import MIX_TOLERANCE, Quota

SHARES = [{"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2},
          {"a": 0.5, "b": 0.3, "c": 0.2},
          {"a": 0.34, "b": 0.33, "c": 0.33},
          {"a": 0.9, "b": 0.1},
          {"a": 0.35, "b": 0.3, "c": 0.2, "d": 0.1, "e": 0.05}]


def worst_deviation(shares: dict[str, float], scarce: int | None, seeds: int = 12, until: int = 250) -> float:
    tasks = list(shares)
    weights = [shares[t] for t in tasks]
    if scarce is not None:
        weights[scarce] *= 0.05      # this task succeeds twenty times less often than planned
    worst = 0.0
    for seed in range(seeds):
        rng = random.Random(seed)
        q = Quota(shares, budget=10**12)
        for _ in range(50_000):       # a stall (every task refused) would end here, short of `until`
            if q.n >= until:
                break
            q.take(rng.choices(tasks, weights)[0], 1)
            if q.n >= 100:
                worst = max(worst, *(abs(q.counts.get(t, 0) / q.n - s) for t, s in shares.items()))
        assert q.n >= until, f"the quota stalled at {q.n} instances: {q.counts}"
    return worst


@pytest.mark.parametrize("shares", SHARES, ids=lambda s: "/".join(f"{v:g}" for v in s.values()))
@pytest.mark.parametrize("scarce", [None, 0, 1, -1], ids=["as-planned", "first-scarce", "second-scarce",
                                                           "last-scarce"])
def test_mix_within_one_point_from_100_instances(shares, scarce):
    bound = MIX_TOLERANCE if len(shares) <= 3 else 0.0125
    assert worst_deviation(shares, scarce) <= bound + 1e-12


def test_tasks_arriving_as_planned_are_rarely_left_out():
    shares = SHARES[0]
    q, left, rng = Quota(shares, budget=10**12), 0, random.Random(0)
    while q.n < 1000:
        left += q.take(rng.choices(list(shares), list(shares.values()))[0], 1) is not None
    assert left / (left + q.n) < 0.25
