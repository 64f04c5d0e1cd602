"""Hand grades: durable appends (a killed process loses none), torn lines skipped, the stratified seeded sample,
Wilson intervals, and what `mmprolong grades` prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mmprolong.cli.main import main
from mmprolong.view.grades import (append_grade, grader_name, grades_path, precision, read_grades, sample_order,
                                   wilson)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_wilson_bounds_solve_the_score_equation():
    """The Wilson interval is the set of p with |k/n - p| <= z sqrt(p (1 - p) / n): its bounds solve the equality."""
    z = 1.959963984540054
    for k, n in ((0, 10), (1, 10), (81, 263), (115, 120), (120, 120)):
        lo, hi = wilson(k, n)
        assert lo <= k / n <= hi
        for p in (lo, hi):
            if 0 < p < 1:
                assert (k / n - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, rel=1e-9)
    assert wilson(0, 10)[0] == pytest.approx(0, abs=1e-15) and wilson(10, 10)[1] == pytest.approx(1, rel=1e-15)
    assert wilson(0, 0) == (0.0, 1.0)


def test_sample_is_seeded_and_every_prefix_is_stratified_by_task():
    items = [(f"q{i:04d}", t) for i, t in enumerate(["a"] * 600 + ["b"] * 300 + ["c"] * 100)]
    order = sample_order(items, seed=3)
    assert sorted(order) == list(range(1000)) and order == sample_order(list(items), seed=3)
    assert sample_order(items, seed=4) != order
    # the same items in another file order: the same qa_ids drawn
    rev = items[::-1]
    assert [rev[i][0] for i in sample_order(rev, 3)] == [items[i][0] for i in order]
    for k in (10, 50, 120):
        c = Counter(items[i][1] for i in order[:k])
        for t, share in (("a", 0.6), ("b", 0.3), ("c", 0.1)):
            assert abs(c[t] - k * share) <= 1


KILLER = """
import os, signal, sys
from mmprolong.view.grades import append_grade
for i in range(int(sys.argv[2])):
    append_grade(sys.argv[1], "alice", f"q{i}", "wrong" if i % 4 == 0 else "correct", note=f"note {i}", task="t")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_grader_loses_nothing_and_a_torn_line_is_skipped(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path), "40"], env=env)
    assert p.returncode == -signal.SIGKILL
    g = read_grades(tmp_path)
    assert len(g) == 40 and g[("alice", "q4")]["note"] == "note 4"
    with open(grades_path(tmp_path, "alice"), "a") as f:
        f.write('{"qa_id": "q99", "gra')          # a write cut by a kill
    append_grade(tmp_path, "bob", "q1", "u", task="t")      # a second grader: a file of its own
    append_grade(tmp_path, "alice", "q1", "a", task="t")    # a regrade: the last one counts
    g = read_grades(tmp_path)
    assert len(g) == 41 and g[("alice", "q1")]["grade"] == "ambiguous" and ("alice", "q99") not in g
    assert len(read_grades(tmp_path, "bob")) == 1 and grades_path(tmp_path, "bob").name == "bob.jsonl"
    p = {r.task: r for r in precision(g)}
    assert (p["all"].n, p["all"].correct) == (41, 29)
    with pytest.raises(ValueError):
        append_grade(tmp_path, "alice", "q1", "x")
    assert grader_name("A. Smith/../x") == "A._Smith_.._x"


def test_grades_command_prints_precision_per_task_and_wrong_items(tmp_path, capsys):
    for i in range(30):
        append_grade(tmp_path, "alice", f"r{i}", "wrong" if i < 3 else "correct", note=f"bad {i}" if i < 3 else "",
                     task="reasoning")
    for i in range(20):
        append_grade(tmp_path, "alice", f"e{i}", "correct", task="extract-single")
    assert main(["grades", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lo, hi = wilson(27, 30)
    assert f"reasoning            30      27     3" in out and f"0.900 [{lo:.3f}, {hi:.3f}]" in out
    assert "all                  50      47" in out
    assert "wrong items (3):" in out and "bad 0" in out and "r2" in out
    assert main(["grades", str(tmp_path / "nope")]) == 2
