"""A build with the openai generator keeps `generator.concurrency` teacher requests in flight across documents
(threads executor by default), against a real HTTP teacher on 127.0.0.1 that sleeps per request, and writes the
same rows as a build with one request at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import yaml

from mmprolong.dataset.parts import read_table

from ..synth.teacher_server import TeacherServer
from .docs import make_document, write_store
from .test_build_openai import GOOD, SECRET

SLEEP = 0.5


class SlowTeacher:
    """Replies GOOD after SLEEP seconds and records the most requests it had in flight at once."""

    def __init__(self):
        self.server = TeacherServer()
        self.lock, self.now, self.peak = threading.Lock(), 0, 0
        self.spans: list[tuple[float, float]] = []   # (start, end) of each request, on the server's clock
        self.server.default = ("fn", self.reply)

    def reply(self, body):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        start = time.monotonic()
        time.sleep(SLEEP)
        with self.lock:
            self.now -= 1
            self.spans.append((start, time.monotonic()))
        return GOOD

    def busy_seconds(self) -> float:
        """How long at least one request was being answered: the union of the spans (overlap counts once)."""
        total, end = 0.0, float("-inf")
        for a, b in sorted(self.spans):
            if b > end:
                total += b - max(a, end)
                end = b
        return total


def run_build(tmp_path, store, teacher, name, concurrency, extra_args=()):
    """One CLI build in a subprocess, the key only in its environment: (peak in flight, requests, seconds the teacher
    was busy). The base URL is in the recipe hash: both builds of a comparison use the same teacher."""
    with teacher.lock:
        teacher.peak, teacher.server.requests[:], teacher.spans[:] = 0, [], []
    recipe = {"max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
              "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
              "budget_tokens": 10**6, "shard_size": 3,
              "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.server.base_url,
                            "api_key_env": "TEST_TEACHER_KEY", "timeout_s": 30, "max_retries": 0,
                            "concurrency": concurrency, "cache_dir": str(tmp_path / f"cache-{name}")}}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    env = dict(os.environ, TEST_TEACHER_KEY=SECRET)
    cmd = [sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", str(tmp_path / f"{name}.yaml"),
           "--store", str(store), "--out", str(tmp_path / name), "--quiet", "--no-report", *extra_args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    return teacher.peak, len(teacher.server.requests), teacher.busy_seconds()


def tables(out):
    return {t: read_table(out, t).to_pylist() for t in ("shards", "qa", "rejected")}


def test_openai_build_keeps_concurrency_requests_in_flight(tmp_path):
    docs = [make_document(f"doc{i}", 6, size=(308, 396)) for i in range(8)]
    for d in docs:
        d.pages[1]["text"] = "The Northwind plant produced 4,210 tonnes of steel in 2019."
    store = write_store(tmp_path / "store", docs)
    teacher = SlowTeacher()
    try:
        peak1, n1, t_serial = run_build(tmp_path, store, teacher, "c1", 1)
        peak8, n8, t_wide = run_build(tmp_path, store, teacher, "c8", 8)
    finally:
        teacher.server.close()
    assert n1 == n8 == 8 and peak1 == 1 and peak8 > 4
    # the teacher's time, measured where it is spent (not the builds' wall clock, which start-up and a loaded
    # machine blur): one at a time it is 8 x 0.5 s end to end; 8 wide, the requests overlap
    assert t_serial >= 8 * SLEEP and t_wide < 0.75 * t_serial
    a, b = tables(tmp_path / "c1"), tables(tmp_path / "c8")
    assert len(a["shards"]) == 8 and a == b  # same rows, same (plan) order
    for f in (tmp_path / "c8").rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_executor_choice():
    from mmprolong.dataset.build import choose_executor
    from mmprolong.recipe import parse_recipe

    teacher = parse_recipe({"generator": {"kind": "openai", "model": "m", "concurrency": 64}})
    rules = parse_recipe({})
    assert choose_executor(teacher, None, None) == ("threads", 64)
    assert choose_executor(teacher, None, 3) == ("threads", 3)
    assert choose_executor(teacher, "threads", None) == ("threads", 64)
    assert choose_executor(teacher, "local", None) == ("local", None)
    assert choose_executor(rules, None, None) == ("local", None)
    assert choose_executor(rules, None, 2) == ("local", 2)
