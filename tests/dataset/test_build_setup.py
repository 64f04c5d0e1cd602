"""Setup errors stop a build before work starts, against a real teacher on 127.0.0.1, the build
run as the CLI in a subprocess: a missing key, an unreachable server, a model the server does not list, a rejected
key, a teacher that fails every request mid-run; and a failed generation is never "done": a rerun retries it."""

from __future__ import annotations

import os
import socket

from mmprolong.dataset.parts import read_table
from mmprolong.errors import EXIT_SETUP

from ..synth.teacher_server import TeacherServer
from .test_build_openai import GOOD, SECRET, run_build


def _one_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _nothing_done(out) -> None:
    assert not list((out / "_progress").glob("part-*.json")) if (out / "_progress").exists() else True
    assert not (out / "shards").exists() or not list((out / "shards").glob("*.parquet"))


def _teacher() -> TeacherServer:
    t = TeacherServer()
    t.default = ("json", GOOD)
    return t


def test_missing_key_stops_before_work(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TEST_TEACHER_KEY"}
    proc, teacher = run_build(tmp_path, [], env=env)
    assert proc.returncode == EXIT_SETUP
    assert "TEST_TEACHER_KEY is not set" in _one_line(proc)
    assert not teacher.requests and not teacher.preflights
    _nothing_done(tmp_path / "out")


def test_unreachable_server_stops_before_work(tmp_path):
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, _ = run_build(tmp_path, [], generator={"base_url": f"http://127.0.0.1:{port}/v1"})
    assert proc.returncode == EXIT_SETUP
    assert f"127.0.0.1:{port}" in _one_line(proc) and "not reachable" in proc.stderr
    _nothing_done(tmp_path / "out")


def test_model_not_listed_stops_before_work(tmp_path):
    teacher = _teacher()
    teacher.models = ["some-other-model"]
    try:
        proc, _ = run_build(tmp_path, [], teacher=teacher)
    finally:
        teacher.close()
    assert proc.returncode == EXIT_SETUP
    line = _one_line(proc)
    assert "does not serve model 'teacher-vl'" in line and "some-other-model" in line
    assert not teacher.requests and not teacher.preflights
    _nothing_done(tmp_path / "out")


def test_rejected_key_stops_before_work_and_the_key_is_not_printed(tmp_path):
    teacher = _teacher()
    teacher.models = ["teacher-vl"]
    teacher.preflight = ("echo_auth", 401)
    try:
        proc, _ = run_build(tmp_path, [], teacher=teacher)
    finally:
        teacher.close()
    assert proc.returncode == EXIT_SETUP
    assert "rejected the API key in $TEST_TEACHER_KEY (HTTP 401)" in _one_line(proc)
    assert len(teacher.preflights) == 1 and not teacher.requests and SECRET not in proc.stderr + proc.stdout
    _nothing_done(tmp_path / "out")


def test_consecutive_failures_stop_the_build_and_a_rerun_retries_them(tmp_path):
    teacher = _teacher()
    teacher.default = ("status", 503)    # the preflight passes, then the teacher goes down
    try:
        proc, _ = run_build(tmp_path, [], ["--max-consecutive-failures", "2"], teacher=teacher)
        assert proc.returncode == EXIT_SETUP
        line = _one_line(proc)
        assert "2 consecutive generation failures of the same kind (http_503)" in line
        assert not len(read_table(tmp_path / "out", "shards")) and not len(read_table(tmp_path / "out", "rejected"))
        teacher.default = ("json", GOOD)   # back up: the same command finishes the work, nothing was "done"
        again, _ = run_build(tmp_path, [], ["--max-consecutive-failures", "2"], teacher=teacher)
    finally:
        teacher.close()
    assert again.returncode == 0, again.stderr
    assert len(read_table(tmp_path / "out", "shards")) == 3


def test_one_failed_generation_is_an_error_in_the_summary_and_is_retried(tmp_path):
    teacher = _teacher()
    try:
        proc, _ = run_build(tmp_path, [("status", 503)], teacher=teacher)
        assert proc.returncode == 0, proc.stderr
        assert "errors (not done, retried) │ 1: generation-failed: http_503 1" in proc.stderr
        assert len(read_table(tmp_path / "out", "shards")) == 2 and not len(read_table(tmp_path / "out", "rejected"))
        again, _ = run_build(tmp_path, [], teacher=teacher)
    finally:
        teacher.close()
    assert again.returncode == 0, again.stderr
    assert len(read_table(tmp_path / "out", "shards")) == 3 and "errors (not done, retried) │ 0" in again.stderr


def test_an_echoing_gateway_never_gets_the_key_on_disk_or_screen(tmp_path):
    teacher = _teacher()
    teacher.default = ("echo_auth", 401)   # the preflight passes; every generation echoes the credentials
    try:
        proc, _ = run_build(tmp_path, [], ["--max-consecutive-failures", "2"], teacher=teacher)
    finally:
        teacher.close()
    assert teacher.auth and all(a == f"Bearer {SECRET}" for a in teacher.auth)
    assert proc.returncode == EXIT_SETUP and "http_401" in proc.stderr and "Bearer ***" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    files = [f for f in (tmp_path / "out").rglob("*") if f.is_file()]
    assert any(b"Bearer ***" in f.read_bytes() for f in files)   # the reason is kept, the key is not
    assert not any(SECRET.encode() in f.read_bytes() for f in files)


def test_a_build_where_every_document_failed_exits_1_with_a_one_line_summary(tmp_path):
    """Teacher 500s, a reset connection and malformed JSON, one per document (fewer than the consecutive-failure
    stop): no instance is kept, so the build exits 1 like `eval run`, with a one-line summary even with --quiet."""
    teacher = _teacher()
    teacher.default = ("text", "this is not JSON")
    try:
        proc, _ = run_build(tmp_path, [("status", 500), ("reset",)], ["--quiet"], teacher=teacher)
    finally:
        teacher.close()
    assert proc.returncode == 1, proc.stderr
    line = _one_line(proc)
    assert line.startswith("build kept no instances: 2 documents failed (generation-failed: ")
    assert "http_500 1" in line and "connection_error 1" in line and "1 QA/instances rejected" in line
    assert not len(read_table(tmp_path / "out", "shards"))
