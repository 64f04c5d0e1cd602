"""The local executor with a real process pool: results, errors, time-outs (worker killed), crashes, recycling."""

from __future__ import annotations

import os
import time

import pytest

from mmprolong.run import Failure, map_unordered


def square(x: int) -> int:
    return x * x


def task(spec: tuple[str, float]):
    kind, value = spec
    if kind == "sleep":
        time.sleep(value)
        return "slept"
    if kind == "raise":
        raise ValueError(f"bad item {value}")
    if kind == "exit":
        os._exit(3)
    return os.getpid()


def test_all_items_come_back_once_in_any_order():
    got = dict(map_unordered(square, iter(range(20)), workers=2))
    assert got == {i: i * i for i in range(20)}


def test_failures_are_data_and_the_run_goes_on():
    items = [("raise", 1), ("sleep", 30), ("exit", 0), ("pid", 0), ("pid", 0)]
    t0 = time.monotonic()
    out = {spec: res for spec, res in map_unordered(task, items, workers=2, timeout_s=1.5)}
    assert time.monotonic() - t0 < 20  # the 30 s task was killed, not waited for
    assert isinstance(out[("raise", 1)], Failure) and out[("raise", 1)].kind == "error"
    assert "ValueError: bad item 1" in out[("raise", 1)].error
    assert out[("sleep", 30)].kind == "timeout"
    assert out[("exit", 0)].kind == "crashed"
    assert isinstance(out[("pid", 0)], int)


def test_timed_out_worker_is_killed_and_replaced():
    items = [("sleep", 30)] + [("pid", 0)] * 6
    out = list(map_unordered(task, items, workers=1, timeout_s=1.0))
    assert [r.kind for _, r in out if isinstance(r, Failure)] == ["timeout"]
    pids = [r for _, r in out if not isinstance(r, Failure)]
    assert len(pids) == 6
    assert all(not _alive(p) for p in pids)  # pool shut down: no worker left behind


def test_workers_are_recycled_every_k_tasks():
    pids = [r for _, r in map_unordered(task, [("pid", 0)] * 6, workers=1, max_tasks_per_worker=2)]
    assert len(set(pids)) == 3


def test_early_stop_leaves_no_workers():
    gen = map_unordered(task, [("pid", 0)] + [("sleep", 30)] * 4, workers=2)
    first = next(gen)
    gen.close()
    time.sleep(0.2)
    assert not _alive(first[1]) or isinstance(first[1], Failure)


def test_bad_arguments_name_the_key():
    with pytest.raises(ValueError, match="executor"):
        map_unordered(square, [1], executor="dask")
    with pytest.raises(ValueError, match="workers"):
        map_unordered(square, [1], workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        map_unordered(square, [1], timeout_s=0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "noguard.py"
    script.write_text("from mmprolong.run import map_unordered\nprint(list(map_unordered(abs, [-1], workers=1)))\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode != 0 and "__name__ == '__main__'" in run.stderr


def read_env(name: str) -> str | None:
    return os.environ.get(name)


def test_workers_see_the_environment_as_it_is_when_the_map_starts(monkeypatch):
    # the fork server is already running (earlier maps); a variable set now must still reach the workers
    list(map_unordered(square, [1], workers=1))
    monkeypatch.setenv("MMPROLONG_TEST_LATE_VAR", "set-late")
    got = [r for _, r in map_unordered(read_env, ["MMPROLONG_TEST_LATE_VAR"], workers=1)]
    assert got == ["set-late"]
