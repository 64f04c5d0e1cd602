"""An example `eval report` comparing two checkpoints, from SIMULATED predictions (no model is run): it shows the
report's format — per-cell n and failed requests, overall = mean of the 64K and 128K macro averages, paired
differences with bootstrap 95% intervals, needle heatmaps with n and a missing cell — not any model's quality.

Golds: MMLongBench-Doc's data/samples.json when --golds GITDIR is given (a checkout or mirror of
mayubo2333/MMLongBench-Doc), else the hand-written golds of tests/eval/scorers/data/mmlongbench_battery.jsonl.
Checkpoint A answers right with probability 0.45/0.40/0.30/0.20 at 64K/128K/256K/512K, B with 0.50/0.48/0.45/0.40,
on the same instances (common random numbers); B's requests time out 3% of the time at 512K (scored 0, counted).

Writes bench/results/eval_report/ (report.md, PNGs) and scores each run with the default scorer.
Usage: python bench/eval_report.py [--golds GITDIR]
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "eval" / "scorers" / "data" / "mmlongbench_battery.jsonl"
FMT = {"Int": "Integer", "Str": "String", "Float": "Float", "List": "List", "None": "None"}
LENGTHS = (65536, 131072, 262144, 524288)
P_RIGHT = {"A": (0.45, 0.40, 0.30, 0.20), "B": (0.50, 0.48, 0.45, 0.40)}


def golds(gitdir: str | None) -> list[tuple[str, str]]:
    from mmprolong.eval.scorers.mmlongbench import check_gold

    if gitdir:
        raw = subprocess.run(["git", "--git-dir", gitdir, "show", "HEAD:data/samples.json"], check=True,
                             capture_output=True, text=True).stdout
        out = []
        for s in json.loads(raw):
            fmt, ans = FMT[s["answer_format"]], s["answer"]
            if fmt == "List":
                try:
                    ans = json.dumps(ast.literal_eval(ans))
                except (ValueError, SyntaxError):
                    continue
            out.append((ans, fmt))
    else:
        out = sorted({(r["gold"], r["answer_format"]) for r in map(json.loads, FIXTURE.read_text().splitlines())})
    return [(g, f) for g, f in out if check_gold(g, f) is None]


def wrong(gold: str, fmt: str) -> str:
    return "Answer: 7" if fmt == "None" else "Answer: Not answerable"


def write_run(d: Path, name: str, items, rng_seed: int) -> None:
    from mmprolong.eval.runner import PREDICTIONS, RUN

    d.mkdir(parents=True)
    (d / RUN).write_text(json.dumps({"backend": name, "set_manifest": {"config": {"repeats": 10}}}))
    rows = []
    for k, L in enumerate(LENGTHS):
        for i, (gold, fmt) in enumerate(items):
            u = random.Random(f"{rng_seed}:{L}:{i}").random()          # common random numbers across runs
            row = {"instance_id": f"q{i}@{L}", "dataset": "mmlongbench-doc" if i % 2 == 0 else "longdocurl",
                   "kind": "doc", "task": "", "target_length": L, "depth": 0.5, "question": "q", "answer": gold,
                   "answer_format": fmt, "model": name, "error": "",
                   "prediction": f"Answer: {gold}" if u < P_RIGHT[name][k] else wrong(gold, fmt)}
            if name == "B" and L == 524288 and random.Random(f"err:{i}").random() < 0.03:
                row.update(prediction=None, error="APITimeoutError: Request timed out.")
            rows.append(row)
        for depth in (0.0, 0.25, 0.5, 0.75, 1.0):
            if name == "A" and L == 524288 and depth == 0.5:
                continue                                               # a cell with no probes: marked missing
            for r in range(10):
                u = random.Random(f"n:{L}:{depth}:{r}").random()
                rows.append({"instance_id": f"n{L}-{depth}-{r}", "dataset": "niah-image", "kind": "needle",
                             "task": "retrieval", "target_length": L, "depth": depth, "question": "q",
                             "answer": "4721", "answer_format": "Integer", "model": name, "error": "",
                             "prediction": "Answer: 4721" if u < P_RIGHT[name][k] + 0.3 else "Answer: 1234"})
    (d / PREDICTIONS).write_text("".join(json.dumps(r) + "\n" for r in rows))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--golds", default=None)
    ap.add_argument("--out", default=str(HERE / "results" / "eval_report"))
    a = ap.parse_args(argv)
    from mmprolong.eval.report import write_report

    items = golds(a.golds)
    out = Path(a.out)
    work = out.parent / "_eval_report_runs"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    for name in ("A", "B"):
        write_run(work / name, name, items, rng_seed=0)
    md = write_report([work / "A", work / "B"], out, names=["checkpoint-A", "checkpoint-B"])
    (out / "predictions.jsonl").unlink()        # large and synthetic; the report is the point
    text = md.read_text().replace(str(work) + "/", "").replace(
        "Raw predictions with scores: `predictions.jsonl`.", "(predictions.jsonl left out: simulated.)")
    md.write_text("> Simulated predictions (bench/eval_report.py): the report's format, not a model's quality. "
                  f"{len(items)} golds x {len(LENGTHS)} lengths per run.\n\n" + text)
    shutil.rmtree(work)
    print(md.read_text()[:3000])
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main(sys.argv[1:]))
