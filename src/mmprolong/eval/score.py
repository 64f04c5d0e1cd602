"""Score a run: every prediction gets a score — MMLongBench's rule-based doc-QA scorer by default (`--scorer`), a
classic metric (`--metric`), or the LLM judge; needles as MMLongBench scores MM-NIAH — written to scored.jsonl
beside predictions.jsonl, with the aggregate in scores.json.

A failed request scores 0 and is flagged (`error` kept, `failed: true`). scores.json records what was scored (the
predictions file's sha256 and row count, the scorer or judge and its prompt version); `ensure_scored` rescores
whenever the predictions or the scorer changed, so a report never shows a stale score.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from .aggregate import aggregate, is_error
from .runner import PREDICTIONS, read_predictions
from .scorers import METRICS, SCORERS, extract_answer, score_docqa
from .scorers.needle import score_needle

log = logging.getLogger(__name__)

SCORED = "scored.jsonl"
SCORES = "scores.json"
DEFAULT_SCORER = "mmlongbench"


def _method(scorer: str, metric: str | None, judge) -> str:
    if judge is not None:
        d = judge.describe() if hasattr(judge, "describe") else {}
        return f"judge:{d.get('judge_model', '?')}:{d.get('judge_prompt', '?')}"
    if metric and metric != "docqa":
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
        return f"metric:{metric}"
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; use one of {', '.join(SCORERS)}")
    return scorer


def score_row(row: dict, metric: str | None = None, judge=None, scorer: str = DEFAULT_SCORER) -> float | None:
    """The row's score in [0, 1]; None for a failed request (aggregation scores it 0 and counts it)."""
    if row.get("error") or row.get("prediction") is None:
        return None
    if row.get("kind") == "needle":
        return score_needle(row["prediction"], row["answer"], row.get("task", ""))
    if judge is not None:
        return judge.score(row["question"], row["answer"], row["prediction"], row["answer_format"])
    if metric and metric != "docqa":
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
        return METRICS[metric](row["prediction"], row["answer"])
    return score_docqa(row["prediction"], row["answer"], row["answer_format"], scorer=scorer)


def predictions_digest(run_dir: str | Path) -> dict:
    """What a score is a score of: the predictions file's sha256 and its number of (last-per-instance) rows."""
    p = Path(run_dir) / PREDICTIONS
    h = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else ""
    return {"predictions_sha256": h, "rows": len(read_predictions(run_dir))}


def score_run(run_dir: str | Path, metric: str | None = None, judge=None, lengths: list[int] | None = None,
              progress: bool = True, scorer: str = DEFAULT_SCORER) -> dict:
    from rich.progress import track

    from .runner import require_local

    require_local(run_dir)
    run_dir = Path(run_dir)
    method = _method(scorer, metric, judge)
    digest = predictions_digest(run_dir)
    preds = read_predictions(run_dir)
    if not preds:
        raise FileNotFoundError(f"{run_dir}: no predictions (run `mmprolong eval run` first)")
    rows = []
    items = list(preds.values())
    for r in (track(items, description="scoring") if progress else items):
        try:
            s = score_row(r, metric, judge, scorer)
        except ValueError as e:
            raise ValueError(f"{run_dir / PREDICTIONS}: instance {r.get('instance_id')}: {e}") from e
        row = {**r, "extracted": extract_answer(r.get("prediction") or ""), "score": s, "metric": method}
        row["failed"] = is_error(row)
        if row["failed"]:
            row["score"] = 0.0
        rows.append(row)
    tmp = run_dir / (SCORED + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(run_dir / SCORED)
    agg = aggregate([_agg_row(r) for r in rows if r.get("kind", "doc") == "doc"], lengths)
    out = {"metric": method, "model": rows[0].get("model", ""), "scored_from": {**digest, "method": method},
           "doc": agg}
    if judge is not None and getattr(judge, "unreadable", 0):
        out["judge_unreadable"] = judge.unreadable
    needles = [_agg_row(r) for r in rows if r.get("kind") == "needle"]
    if needles:
        out["needles"] = needle_grid(needles)
    (run_dir / SCORES).write_text(json.dumps(out, indent=2))
    return out


def _agg_row(r: dict) -> dict:
    return {**r, "score": None if r.get("failed") else r["score"]}


def is_current(run_dir: str | Path, method: str | None = None) -> bool:
    """scored.jsonl is a score of the current predictions (and of `method`, when given)."""
    run_dir = Path(run_dir)
    p = run_dir / SCORES
    if not p.exists() or not (run_dir / SCORED).exists():
        return False
    rec = json.loads(p.read_text()).get("scored_from") or {}
    d = predictions_digest(run_dir)
    return (rec.get("predictions_sha256") == d["predictions_sha256"] and rec.get("rows") == d["rows"]
            and (method is None or rec.get("method") == method))


def ensure_scored(run_dir: str | Path, scorer: str = DEFAULT_SCORER, metric: str | None = None) -> list[dict]:
    """scored.jsonl rows of the current predictions: the existing file when current (a judge's scores are kept
    while the predictions did not change), else rescored with `scorer`/`metric`."""
    run_dir = Path(run_dir)
    if not is_current(run_dir):
        p = run_dir / SCORES
        old = (json.loads(p.read_text()).get("scored_from") or {}).get("method") if p.exists() else None
        new = _method(scorer, metric, None)
        if old and old != new:
            log.warning("%s: predictions changed since they were scored with %s; rescoring with %s (run `eval score` "
                        "to score with %s again)", run_dir, old, new, old)
        score_run(run_dir, metric=metric, progress=False, scorer=scorer)
    return [json.loads(ln) for ln in (run_dir / SCORED).read_text().splitlines() if ln.strip()]


def needle_grid(rows: list[dict]) -> dict:
    """Per task, length and depth (rounded to 0.01): {"score": mean % (failed probes count 0), "n", "errors"}."""
    from collections import defaultdict
    from statistics import mean

    cells: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        cells[f"{r.get('dataset', '')}/{r.get('task', '')}"][int(r["target_length"])][
            round(float(r["depth"]), 2)].append(r)
    return {t: {L: {d: {"score": 100 * mean(0.0 if is_error(x) else float(x["score"]) for x in v), "n": len(v),
                        "errors": sum(is_error(x) for x in v)} for d, v in sorted(dd.items())}
                for L, dd in sorted(ld.items())} for t, ld in sorted(cells.items())}
