"""Aggregation as the paper reports: mean per dataset x length, per-length macro average over datasets,
and the overall score = mean of the per-length macro averages over the chosen lengths."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean


def aggregate(rows: list[dict], lengths: list[int] | None = None, key: str = "score") -> dict:
    """rows: dicts with dataset, target_length, `key` (None/missing rows, e.g. backend errors, are left out)."""
    cells: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.get(key) is None:
            errors[int(r["target_length"])] += 1
            continue
        cells[r["dataset"]][int(r["target_length"])].append(float(r[key]))
    all_lengths = sorted({L for d in cells.values() for L in d} | set(errors))
    by = {ds: {L: 100 * mean(v) for L, v in sorted(d.items())} for ds, d in sorted(cells.items())}
    n = {ds: {L: len(v) for L, v in sorted(d.items())} for ds, d in sorted(cells.items())}
    macro = {}
    for L in all_lengths:
        vals = [by[ds][L] for ds in by if L in by[ds]]
        if vals:
            macro[L] = mean(vals)
    chosen = [L for L in (lengths or sorted(macro)) if L in macro]
    missing = [L for L in (lengths or []) if L not in macro]
    return {"by_dataset": by, "n": n, "macro": macro, "overall": mean(macro[L] for L in chosen) if chosen else None,
            "overall_lengths": chosen, "missing_lengths": missing, "errors": dict(errors)}
