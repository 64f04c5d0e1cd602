"""Score a run: every prediction gets a score (rule-based doc-QA by default, or another metric, or the LLM judge),
written to scored.jsonl beside predictions.jsonl, with the aggregate in scores.json."""

from __future__ import annotations

import json
from pathlib import Path

from .aggregate import aggregate
from .runner import read_predictions
from .scorers import METRICS, extract_answer, score_docqa

SCORED = "scored.jsonl"
SCORES = "scores.json"


def score_row(row: dict, metric: str = "docqa", judge=None) -> float | None:
    if row.get("error") or row.get("prediction") is None:
        return None
    if judge is not None:
        return judge.score(row["question"], row["answer"], row["prediction"], row["answer_format"])
    if metric == "docqa":
        return score_docqa(row["prediction"], row["answer"], row["answer_format"])
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
    return METRICS[metric](row["prediction"], row["answer"])


def score_run(run_dir: str | Path, metric: str = "docqa", judge=None, lengths: list[int] | None = None,
              progress: bool = True) -> dict:
    from rich.progress import track

    run_dir = Path(run_dir)
    preds = read_predictions(run_dir)
    if not preds:
        raise FileNotFoundError(f"{run_dir}: no predictions (run `mmprolong eval run` first)")
    rows = []
    items = list(preds.values())
    for r in (track(items, description="scoring") if progress else items):
        rows.append({**r, "extracted": extract_answer(r.get("prediction") or ""),
                     "score": score_row(r, metric, judge), "metric": "judge" if judge else metric})
    tmp = run_dir / (SCORED + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(run_dir / SCORED)
    agg = aggregate([r for r in rows if r.get("kind", "doc") == "doc"], lengths)
    out = {"metric": "judge" if judge else metric, "model": rows[0].get("model", ""), "doc": agg}
    needles = [r for r in rows if r.get("kind") == "needle"]
    if needles:
        out["needles"] = needle_grid(needles)
    (run_dir / SCORES).write_text(json.dumps(out, indent=2))
    return out


def needle_grid(rows: list[dict]) -> dict:
    """Mean needle score per task, length and depth (percent)."""
    from collections import defaultdict
    from statistics import mean

    cells: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        if r.get("score") is not None:
            cells[f"{r.get('dataset', '')}/{r.get('task', '')}"][int(r["target_length"])][round(float(r["depth"]), 2)].append(r["score"])
    return {t: {L: {d: 100 * mean(v) for d, v in sorted(dd.items())} for L, dd in sorted(ld.items())}
            for t, ld in sorted(cells.items())}
