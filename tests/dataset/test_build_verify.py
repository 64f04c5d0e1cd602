"""A build with a teacher and a verifier model, both real HTTP servers on 127.0.0.1, run as the CLI in a subprocess:
the teacher's wrong value (another number of the same line) is rejected by the rule checks before any model is
asked, the right ones are kept after the verifier agrees, and the report counts the verifier's requests and
tokens; with verification off the report says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from mmprolong.dataset.parts import read_table

from ..synth.teacher_server import TeacherServer
from ..synth.verifier_server import VerifierServer
from .docs import make_document, write_store

TEXT = "The Northwind plant produced 4,210 tonnes of steel in 2019. The Northwind plant employed 312 workers in 2019."
GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}


def _build(tmp_path, verify: dict | None):
    docs = [make_document(f"doc{i}", 6, size=(308, 396)) for i in range(3)]
    for d in docs:
        d.pages[1]["text"] = TEXT
    store = write_store(tmp_path / "store", docs)
    teacher, verifier = TeacherServer(), VerifierServer()
    for d in docs:
        verifier.register(d)
    teacher.script = [("json", GOOD | {"answer": 312})]   # the first reply: another value from the same page
    teacher.default = ("json", GOOD)
    recipe = {"max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
              "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
              "budget_tokens": 10**6,
              "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.base_url,
                            "api_key_env": "TEST_TEACHER_KEY", "timeout_s": 30, "max_retries": 0, "concurrency": 1}}
    if verify is not None:
        recipe["verify"] = verify | {"base_url": verifier.base_url, "api_key_env": "TEST_VERIFIER_KEY"}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = dict(os.environ, TEST_TEACHER_KEY="t", TEST_VERIFIER_KEY="sk-verifier-never-logged-1234")
    cmd = [sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", str(tmp_path / "r.yaml"),
           "--store", str(store), "--out", str(tmp_path / "out"), "--workers", "1"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    finally:
        teacher.close()
        verifier.close()
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "out", verifier


def test_build_with_verifier_rejects_the_wrong_value(tmp_path):
    out, verifier = _build(tmp_path, {"kind": "openai", "model": "reader"})
    rej = read_table(out, "rejected").to_pylist()
    reasons = [(r["answer"], r["reason"]) for r in rej]
    # the wrong value (312 workers, on the line of the 4,210 tonnes) is not at the question's labels: the rules
    # reject it; the slot is then retried on another segment (dataset/document.py slot_attempts)
    assert reasons[0] == ("312", "verify: answer_not_at_labels")
    assert all("verifier" not in why for _, why in reasons)
    assert [r["target"] for r in read_table(out, "shards").to_pylist()] == ["4210"] * 3   # the retried slot filled
    assert len(verifier.requests) == 6   # evidence + closed-book for each of the three items that passed the rules
    use = json.loads((out / "manifest.json").read_text())["verifier_usage"]
    assert use["requests"] == 6 and use["prompt_tokens"] > 0
    report = (out / "report" / "report.md").read_text()
    assert "Model verification ON: `reader`" in report and "| answer_not_at_labels | rule | 1 |" in report
    for f in out.rglob("*"):
        if f.is_file():
            assert b"sk-verifier-never-logged-1234" not in f.read_bytes(), f


def test_build_without_verifier_says_so(tmp_path):
    out, verifier = _build(tmp_path, None)
    assert not verifier.requests
    assert len(read_table(out, "shards").to_pylist()) == 3   # the wrong value is rejected, its slot retried
    assert "**Model verification was OFF**" in (out / "report" / "report.md").read_text()
