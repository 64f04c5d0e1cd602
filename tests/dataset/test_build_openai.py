"""A build with the openai generator against a real HTTP teacher on 127.0.0.1, run as the CLI in a subprocess whose
environment holds the API key: instances are made from the teacher's replies and the key is written nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from mmprolong.dataset.parts import read_table

from ..synth.teacher_server import TeacherServer
from .docs import make_document, write_store

GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}
SECRET = "sk-test-never-logged-9431"


def run_build(tmp_path, script, extra_args=(), teacher=None, env=None, generator=None):
    """Run the build CLI; a `teacher` given is kept open (and its script left as set) for a rerun."""
    store = tmp_path / "store"
    if not store.exists():
        docs = [make_document(f"doc{i}", 6, size=(308, 396)) for i in range(3)]
        for d in docs:
            d.pages[1]["text"] = "The Northwind plant produced 4,210 tonnes of steel in 2019."
        write_store(store, docs)
    keep = teacher is not None
    if teacher is None:
        teacher = TeacherServer()
        teacher.default = ("json", GOOD)
    teacher.script = list(script)
    try:
        recipe = {"max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
                  "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
                  "budget_tokens": 10**6,
                  "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.base_url,
                                "api_key_env": "TEST_TEACHER_KEY", "timeout_s": 30, "max_retries": 0,
                                "cache_dir": str(tmp_path / "cache"), **(generator or {})}}
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
        env = dict(os.environ, TEST_TEACHER_KEY=SECRET) if env is None else env
        cmd = [sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", str(tmp_path / "r.yaml"),
               "--store", str(store), "--out", str(tmp_path / "out"), "--workers", "1", *extra_args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    finally:
        if not keep:
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


@pytest.mark.slow
def test_a_document_over_the_deadline_is_not_done_until_retry_failed(tmp_path):
    teacher = TeacherServer()
    teacher.default = ("json", GOOD)
    try:
        proc, _ = run_build(tmp_path, [("sleep", 20, ("json", GOOD))], ["--timeout", "6"], teacher=teacher)
        assert proc.returncode == 0, proc.stderr
        assert "errors (not done, retried)" in proc.stderr and "document-failed: timeout 1" in proc.stderr
        assert len(read_table(tmp_path / "out", "shards")) == 2
        assert not len(read_table(tmp_path / "out", "rejected"))   # not "done", not a rejection: it waits
        again, _ = run_build(tmp_path, [], ["--timeout", "6"], teacher=teacher)
        assert again.returncode == 0 and len(read_table(tmp_path / "out", "shards")) == 2  # a plain rerun: waits
        assert "1 documents are not done" in again.stderr
        again, _ = run_build(tmp_path, [], ["--timeout", "6", "--retry-failed"], teacher=teacher)
        assert again.returncode == 0, again.stderr
        assert len(read_table(tmp_path / "out", "shards")) == 3 and "errors (not done, retried) │ 0" in again.stderr
    finally:
        teacher.close()
