"""The threads executor: results, errors, time-outs (thread abandoned, result dropped), the in-flight bound, lazy
consumption of the items."""

from __future__ import annotations

import threading
import time

import pytest

from mmprolong.run import EXECUTORS, Failure, map_unordered


def test_all_items_come_back_once_and_closures_are_fine():
    got = dict(map_unordered(lambda x: x * x, iter(range(50)), executor="threads", workers=4))
    assert got == {i: i * i for i in range(50)} and "threads" in EXECUTORS


def test_up_to_workers_calls_in_flight_and_no_more():
    lock, now, peak = threading.Lock(), [0], [0]

    def fn(x):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.2)
        with lock:
            now[0] -= 1
        return x

    t0 = time.monotonic()
    assert sorted(x for x, _ in map_unordered(fn, range(16), executor="threads", workers=8)) == list(range(16))
    assert peak[0] == 8 and time.monotonic() - t0 < 3.0  # 2 waves of 0.2 s, not 16 (3.2 s); slack for a busy machine


def test_items_are_pulled_lazily():
    pulled = []

    def items():
        for i in range(1000):
            pulled.append(i)
            yield i

    it = map_unordered(lambda x: x, items(), executor="threads", workers=3)
    next(it)
    assert len(pulled) <= 4


def test_failures_are_data_and_a_slow_call_is_a_timeout():
    release = threading.Event()

    def fn(x):
        if x == "raise":
            raise ValueError("bad item")
        if x == "hang":
            release.wait(30)
            return "late"
        return x

    t0 = time.monotonic()
    out = dict(map_unordered(fn, ["raise", "hang", "a", "b", "c"], executor="threads", workers=2, timeout_s=0.5))
    release.set()
    assert time.monotonic() - t0 < 5
    assert out["raise"].kind == "error" and "ValueError: bad item" in out["raise"].error
    assert "Traceback" in out["raise"].traceback
    assert isinstance(out["hang"], Failure) and out["hang"].kind == "timeout" and out["hang"].seconds >= 0.5
    assert [out[k] for k in "abc"] == ["a", "b", "c"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        list(map_unordered(str, [1], executor="threads", workers=0))
    with pytest.raises(ValueError, match="timeout_s"):
        list(map_unordered(str, [1], executor="threads", timeout_s=0))
