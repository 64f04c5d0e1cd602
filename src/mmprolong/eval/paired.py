"""Paired comparison of two runs on the same instances: mean score difference (B - A, percentage points) with a
percentile bootstrap 95% interval over instances, per dataset x length and per length (macro over datasets,
resampling each dataset's instances independently). Failed requests score 0 on both sides, as in the tables."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .aggregate import is_error

RESAMPLES = 2000


def _score(r: dict) -> float:
    return 0.0 if is_error(r) else float(r["score"])


def paired_diff(rows_a: list[dict], rows_b: list[dict], resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """{"cells": {(dataset, length): stats}, "by_length": {length: stats}, "only_a": n, "only_b": n}; stats =
    {"diff", "lo", "hi", "n", "a", "b"} in percentage points. Instances present in one run only are left out (and
    counted): a paired difference is over the same instances or it is not paired."""
    a = {r["instance_id"]: r for r in rows_a if r.get("kind", "doc") == "doc"}
    b = {r["instance_id"]: r for r in rows_b if r.get("kind", "doc") == "doc"}
    common = sorted(set(a) & set(b))
    groups: dict = defaultdict(list)
    for k in common:
        groups[(a[k]["dataset"], int(a[k]["target_length"]))].append((_score(a[k]), _score(b[k])))
    rng = np.random.default_rng(seed)
    cells, boots = {}, {}
    for key, pairs in sorted(groups.items()):
        arr = np.asarray(pairs, dtype=np.float64) * 100
        d = arr[:, 1] - arr[:, 0]
        idx = rng.integers(0, len(d), size=(resamples, len(d)))
        boots[key] = d[idx].mean(axis=1)
        lo, hi = np.percentile(boots[key], [2.5, 97.5])
        cells[key] = {"diff": float(d.mean()), "lo": float(lo), "hi": float(hi), "n": len(d),
                      "a": float(arr[:, 0].mean()), "b": float(arr[:, 1].mean())}
    by_length = {}
    for L in sorted({L for _, L in groups}):
        keys = [k for k in groups if k[1] == L]
        dist = np.mean([boots[k] for k in keys], axis=0)
        lo, hi = np.percentile(dist, [2.5, 97.5])
        by_length[L] = {"diff": float(np.mean([cells[k]["diff"] for k in keys])), "lo": float(lo), "hi": float(hi),
                        "n": sum(cells[k]["n"] for k in keys), "a": float(np.mean([cells[k]["a"] for k in keys])),
                        "b": float(np.mean([cells[k]["b"] for k in keys]))}
    return {"cells": cells, "by_length": by_length, "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
            "resamples": resamples}
