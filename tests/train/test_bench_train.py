"""bench/train.py: the smoke mode runs the whole script on CPU (both trainers), and a GPU run rewrites only its own
section of the results file."""

import importlib.util
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "train.py"


def test_smoke_mode_runs_both_trainers():
    r = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    table = [line for line in r.stdout.splitlines() if line.startswith("| 256 |")]
    assert [line.split("|")[2].strip() for line in table] == ["ours", "baseline"]
    assert "mmprolong_packed" in table[0] and "OOM" not in r.stdout


def test_results_section_is_replaced_in_place(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_train", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "train.md"
    out.write_text("# Trainer\n\nloading figures\n")
    mod.write_section(out, "first\n")
    mod.write_section(out, "second\n")
    text = out.read_text()
    assert "loading figures" in text and "second" in text and "first" not in text
    assert text.count(mod.BEGIN) == 1
