"""The device script, rehearsed: bench/gpu_session.py --rehearse runs every stage of the GPU call on CPU with a tiny
model (environment, attention check, training rows in their own processes) and writes the same files; rows that
the plan says do not fit, or that outlive their limit, are recorded as such. The wheels the device lacks are
resolved against its package list offline. bench/train.py rewrites only its own section of a results file."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _session(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / "gpu_session.py"), "--rehearse", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp("session")
    r = _session(out, "--budget-s", "1200", "--row-limit-s", "600")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out


@pytest.mark.slow
def test_rehearsal_runs_every_stage_and_writes_its_files(rehearsal):
    env = json.loads((rehearsal / "env.json").read_text())
    assert env["trainer_support"]["mm_encoder_outputs"] and env["card"] == "CPU (rehearsal)"
    assert "ALL OK" in (rehearsal / "attention.log").read_text()
    rows = [json.loads(line) for line in (rehearsal / "rows.jsonl").read_text().splitlines()]
    assert [(r["length"], r["kind"]) for r in rows] == [(256, "ours"), (256, "baseline"), (512, "ours"),
                                                        (512, "baseline")]
    for r in rows:
        assert "error" not in r, r
        assert r["tokens_per_s"] > 0 and r["peak_gib"] > 0 and r["plan_gib"] > 0
    assert rows[0]["attn"].startswith("mmprolong_packed")
    table = (rehearsal / "train.md").read_text()
    assert table.count("| 512 |") == 2


def test_rows_that_do_not_fit_or_outlive_their_limit_are_recorded(tmp_path):
    # a card of 0.01 GiB: the plan predicts no row fits, and none is started
    r = _session(tmp_path / "small", "--card-gib", "0.01", "--lengths", "512", "--stages", "env,rows")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "small" / "rows.jsonl").read_text().splitlines()]
    assert rows and all(r["error"].startswith("predicted not to fit") for r in rows)
    assert not (tmp_path / "small" / "rows.log").exists()
    # a 2 s limit per row: the row process is killed while it runs and recorded as a timeout
    r = _session(tmp_path / "slow", "--row-limit-s", "2", "--lengths", "512", "--stages", "env,rows")
    rows = [json.loads(line) for line in (tmp_path / "slow" / "rows.jsonl").read_text().splitlines()]
    assert rows and all(r["error"].startswith("timeout") and r["wall_s"] < 30 for r in rows)


def test_carried_wheels_fit_the_device_offline():
    env = _load("device_env")
    unmet, unverified = env.check(Path("/nonexistent"))  # the recorded requirements, no wheel, no network
    assert unmet == []
    assert not any("regex" in u for u in unverified)  # carried, since its version there is unknown
    assert any(p.startswith("transformers==") for p in env.CARRY)
    # a pin the device cannot meet is caught: transformers 5.25 needs huggingface-hub >= 2.4 (device: 1.33)
    env.CARRY["transformers==5.25.0"] = ["huggingface-hub<3.0,>=2.4.0"]
    assert env.check(Path("/nonexistent"))[0] == [
        "transformers==5.25.0: huggingface-hub<3.0,>=2.4.0 (device has 1.33.0)"]


def test_results_section_is_replaced_in_place(tmp_path):
    mod = _load("train")
    out = tmp_path / "train.md"
    out.write_text("# Trainer\n\nloading figures\n")
    mod.write_section(out, "first\n")
    mod.write_section(out, "second\n")
    text = out.read_text()
    assert "loading figures" in text and "second" in text and "first" not in text
    assert text.count(mod.BEGIN) == 1
