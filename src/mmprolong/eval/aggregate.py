"""Aggregation as the paper and MMLongBench report: mean per dataset x length (failed requests score 0 and are
counted), the per-length macro average over datasets, and overall = the mean of the 64K and 128K macro averages
(the paper's headline; other lengths on request). Scores are fractions in [0, 1] in rows, percentages in tables."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

OVERALL_LENGTHS = (65536, 131072)


def is_error(row: dict, key: str = "score") -> bool:
    """A row whose request failed (no prediction) or that could not be scored."""
    return bool(row.get("error")) or row.get("prediction", "") is None or row.get(key) is None


def aggregate(rows: list[dict], lengths: list[int] | None = None, key: str = "score") -> dict:
    """rows: dicts with dataset, target_length and `key`. A failed row scores 0, is in n and in `errors`.

    overall: the mean of the macro averages at `lengths` (default 64K and 128K); None, with the lengths named in
    `missing_lengths`, when any of them has no results, never a mean over whatever happens to be there."""
    cells: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    errs: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        ds, L = r["dataset"], int(r["target_length"])
        if is_error(r, key):
            errs[ds][L] += 1
            cells[ds][L].append(0.0)
        else:
            cells[ds][L].append(float(r[key]))
    by = {ds: {L: 100 * mean(v) for L, v in sorted(d.items())} for ds, d in sorted(cells.items())}
    n = {ds: {L: len(v) for L, v in sorted(d.items())} for ds, d in sorted(cells.items())}
    errors_by = {ds: {L: errs[ds].get(L, 0) for L in n[ds]} for ds in n}
    all_lengths = sorted({L for d in cells.values() for L in d})
    macro = {L: mean(by[ds][L] for ds in by if L in by[ds]) for L in all_lengths}
    errors = {L: sum(errors_by[ds].get(L, 0) for ds in errors_by) for L in all_lengths}
    want = list(lengths) if lengths else list(OVERALL_LENGTHS)
    missing = [L for L in want if L not in macro]
    overall = mean(macro[L] for L in want) if want and not missing else None
    # datasets missing at a length make that length's macro average a mean over fewer datasets: say so
    datasets = sorted(by)
    incomplete = {L: [ds for ds in datasets if L not in by[ds]] for L in all_lengths}
    return {"by_dataset": by, "n": n, "errors_by_dataset": errors_by, "macro": macro, "overall": overall,
            "overall_lengths": want, "missing_lengths": missing, "errors": {L: e for L, e in errors.items() if e},
            "n_total": sum(len(v) for d in cells.values() for v in d.values()),
            "errors_total": sum(errors.values()),
            "datasets_missing": {L: v for L, v in incomplete.items() if v}}
