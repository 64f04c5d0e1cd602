"""Hand grades of a build: a seeded sample stratified by task, grades appended durably, precision with intervals.

Grades go to OUT/grades/<grader>.jsonl, one JSON line per grade as it is given, written, flushed and fsynced
before the page is told it was saved: a killed server or browser loses nothing, and a second grader writes a
separate file. A regrade appends a new line; the last line per item wins. A torn last line (a kill during a
write) is skipped when read.

The sample orders the kept items so that every prefix is stratified by task in proportion to the build's mix
(item i of a task with N items gets the key (i + u) / N, u seeded): grading the first 120 grades ~120 * share
items of each task, so the pooled precision is an unbiased estimate for the build and each task gets its own.
Precision = correct / graded: wrong, ambiguous and unnatural items all count against it.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..durable import repair_tail

GRADES = {"c": "correct", "w": "wrong", "a": "ambiguous", "u": "unnatural"}
DIR = "grades"
_lock = threading.Lock()


def grader_name(name: str) -> str:
    """A file-safe grader name (letters, digits, . _ -), ValueError when nothing is left."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", (name or "").strip()).strip("._")
    if not clean:
        raise ValueError(f"grader name {name!r}: use letters, digits, '.', '_' or '-'")
    return clean[:64]


def grades_path(build: str | Path, grader: str) -> Path:
    return Path(build) / DIR / f"{grader_name(grader)}.jsonl"


def append_grade(build: str | Path, grader: str, qa_id: str, grade: str, note: str = "", task: str = "",
                 item: str = "") -> dict:
    """Append one grade durably (write, flush, fsync; the folder fsynced when the file is new); returns the row."""
    grade = GRADES.get(grade, grade)
    if grade not in GRADES.values():
        raise ValueError(f"grade {grade!r}: one of {', '.join(GRADES.values())}")
    if not qa_id:
        raise ValueError("grade without an item (qa_id)")
    path = grades_path(build, grader)
    row = {"qa_id": qa_id, "grade": grade, "note": note or "", "task": task, "item": item,
           "grader": grader_name(grader), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with _lock:
        new = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(path)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return row


def read_grades(build: str | Path, grader: str | None = None) -> dict[tuple[str, str], dict]:
    """(grader, qa_id) -> the last grade given; every grader's file, or one."""
    d = Path(build) / DIR
    files = [grades_path(build, grader)] if grader else sorted(d.glob("*.jsonl")) if d.is_dir() else []
    out: dict[tuple[str, str], dict] = {}
    for p in files:
        if not p.exists():
            continue
        with open(p, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:   # a line torn by a kill
                    continue
                if isinstance(r, dict) and r.get("qa_id") and r.get("grade") in GRADES.values():
                    out[(r.get("grader") or p.stem, r["qa_id"])] = r
    return out


def sample_order(items: list[tuple[str, str]], seed: int = 0) -> list[int]:
    """Indices of `items` (qa_id, task) in grading order: seeded, every prefix stratified by task in proportion."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, (_, task) in enumerate(items):
        by_task[task].append(i)
    keyed = []
    for task in sorted(by_task):
        idx = sorted(by_task[task], key=lambda i: items[i][0])   # independent of the items' file order
        rng = random.Random(f"{seed}:{task}")
        rng.shuffle(idx)
        u = rng.random()
        keyed += [((k + u) / len(idx), task, i) for k, i in enumerate(idx)]
    keyed.sort()
    return [i for _, _, i in keyed]


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n trials ((0, 1) when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@dataclass
class Precision:
    task: str
    n: int
    correct: int
    counts: dict

    @property
    def value(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, self.n)


def precision(grades: dict[tuple[str, str], dict]) -> list[Precision]:
    """Per task and "all" (last row), from the graded items."""
    by: dict[str, list[str]] = defaultdict(list)
    for r in grades.values():
        by[r.get("task") or "?"].append(r["grade"])
        by["all"].append(r["grade"])
    out = []
    for task in sorted(t for t in by if t != "all") + (["all"] if by else []):
        g = by[task]
        out.append(Precision(task, len(g), g.count("correct"), {k: g.count(k) for k in GRADES.values()}))
    return out


def summary_text(build: str | Path, grader: str | None = None) -> str:
    """What `mmprolong grades BUILD` prints: precision per task (95% Wilson) and the wrong items with notes."""
    grades = read_grades(build, grader)
    if not grades:
        return f"{build}: no grades yet (grade with `mmprolong view {build}`, then the Grade tab)"
    graders = sorted({g for g, _ in grades})
    lines = [f"hand grades of {build}: {len(grades)} grades by {', '.join(graders)}", "",
             f"{'task':<16} {'graded':>6} {'correct':>7} {'wrong':>5} {'ambig':>5} {'unnat':>5}  "
             f"precision (95% Wilson)"]
    for p in precision(grades):
        lo, hi = p.interval
        lines.append(f"{p.task:<16} {p.n:>6} {p.correct:>7} {p.counts['wrong']:>5} {p.counts['ambiguous']:>5} "
                     f"{p.counts['unnatural']:>5}  {p.value:.3f} [{lo:.3f}, {hi:.3f}] "
                     f"(+- {(hi - lo) / 2:.3f})")
    wrong = [r for r in grades.values() if r["grade"] == "wrong"]
    lines += ["", f"wrong items ({len(wrong)}):" if wrong else "wrong items: none"]
    for r in sorted(wrong, key=lambda r: (r.get("task", ""), r["qa_id"])):
        lines.append(f"  {r['qa_id']}  {r.get('task', ''):<15} {r.get('grader', '')}: {r.get('note') or '(no note)'}")
    return "\n".join(lines)
