"""A build with the openai generator against a real HTTP teacher on 127.0.0.1, run as the CLI in a subprocess whose
environment holds the API key: instances are made from the teacher's replies and the key is written nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from mmprolong.dataset.parts import read_table

from ..synth.teacher_server import TeacherServer
from .docs import make_document, write_store

GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}
SECRET = "sk-test-never-logged-9431"


def run_build(tmp_path, script, extra_args=()):
    docs = [make_document(f"doc{i}", 6, size=(308, 396)) for i in range(3)]
    for d in docs:
        d.pages[1]["text"] = "The Northwind plant produced 4,210 tonnes of steel in 2019."
    store = write_store(tmp_path / "store", docs)
    teacher = TeacherServer()
    teacher.script = list(script)
    teacher.default = ("json", GOOD)
    try:
        recipe = {"max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
                  "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
                  "budget_tokens": 10**6,
                  "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.base_url,
                                "api_key_env": "TEST_TEACHER_KEY", "timeout_s": 30, "max_retries": 0,
                                "cache_dir": str(tmp_path / "cache")}}
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
        env = dict(os.environ, TEST_TEACHER_KEY=SECRET)
        cmd = [sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", str(tmp_path / "r.yaml"),
               "--store", str(store), "--out", str(tmp_path / "out"), "--workers", "1", *extra_args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    finally:
        teacher.close()
    return proc, teacher


def test_openai_teacher_build(tmp_path):
    proc, teacher = run_build(tmp_path, [])
    assert proc.returncode == 0, proc.stderr
    assert len(teacher.requests) == 3 and all(a == f"Bearer {SECRET}" for a in teacher.auth)
    rows = read_table(tmp_path / "out", "shards").to_pylist()
    assert len(rows) == 3 and all(r["target"] == "4210" and r["task"] == "extract-single" for r in rows)
    assert all(json.loads(r["messages"])[0]["content"][-1]["text"] == GOOD["question"] for r in rows)
    qa = read_table(tmp_path / "out", "qa").to_pylist()
    assert all(q["evidence_pages"] == [1] and q["generator"].startswith("openai") for q in qa)
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    assert SECRET not in proc.stdout + proc.stderr


def test_a_document_over_the_time_limit_is_a_rejection(tmp_path):
    proc, _ = run_build(tmp_path, [("sleep", 8, ("json", GOOD))], ["--timeout", "3"])
    assert proc.returncode == 0, proc.stderr
    rows = read_table(tmp_path / "out", "shards").to_pylist()
    rej = read_table(tmp_path / "out", "rejected").to_pylist()
    assert len(rows) == 2 and len(rej) == 1 and rej[0]["reason"].startswith("document-failed: timeout")
    assert rej[0]["doc_id"] not in {r["doc_id"] for r in rows}
