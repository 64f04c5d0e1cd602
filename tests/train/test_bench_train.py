"""bench/train.py: the smoke mode runs the whole script on CPU (both trainers), and a GPU run rewrites only its own
section of the results file. The script's `main` is called in this process (torch and transformers are imported
here already; a subprocess would import them again)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "train.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_train", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_smoke_mode_runs_both_trainers(capsys):
    assert _bench().main(["--smoke"]) == 0
    stdout = capsys.readouterr().out
    table = [line for line in stdout.splitlines() if line.startswith("| 256 |")]
    assert [line.split("|")[2].strip() for line in table] == ["ours", "baseline"]
    assert "mmprolong_packed" in table[0] and "OOM" not in stdout


def test_results_section_is_replaced_in_place(tmp_path):
    mod = _bench()
    out = tmp_path / "train.md"
    out.write_text("# Trainer\n\nloading figures\n")
    mod.write_section(out, "first\n")
    mod.write_section(out, "second\n")
    text = out.read_text()
    assert "loading figures" in text and "second" in text and "first" not in text
    assert text.count(mod.BEGIN) == 1
