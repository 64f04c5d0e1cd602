"""Executor statistics (run/stats.py): items, results and pickled bytes the driver sends and receives, for the
local process pool, threads and a real local Ray."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from mmprolong.run import Failure, map_unordered
from mmprolong.run.stats import ExecStats, pickled_size, recording


def blow_up(x: int) -> bytes:
    """A result much larger than its item (like a worker returning pages)."""
    if x < 0:
        raise ValueError("negative")
    return bytes(1000 * x)


def _size(obj) -> int:
    return len(pickle.dumps(obj, protocol=5))


ITEMS = [1, 2, 3, 40, -1]


def _expected_results() -> int:
    return sum(_size(blow_up(x)) for x in ITEMS if x >= 0)


def _check(st: ExecStats, out: dict, fn_sends: int) -> None:
    assert st.maps == 1 and st.items == len(ITEMS) and st.results == len(ITEMS)
    assert st.item_bytes == sum(_size(x) for x in ITEMS)
    assert isinstance(out[-1], Failure) and st.failures == 1
    # the failure's own pickled size is part of what came back
    assert st.result_bytes == _expected_results() + _size(out[-1])
    assert st.fn_bytes == _size(blow_up) and st.fn_sends == fn_sends
    assert st.sent_bytes == st.item_bytes + fn_sends * st.fn_bytes
    assert st.received_bytes == st.result_bytes
    assert st.unmeasured == 0 and st.overhead_s >= 0


def test_local_pool_counts_items_results_and_the_function_per_task():
    st = ExecStats()
    out = dict(map_unordered(blow_up, ITEMS, workers=2, stats=st))
    assert out[40] == bytes(40000)
    _check(st, out, fn_sends=len(ITEMS))


def test_threads_count_and_unpicklable_items_are_counted_not_sized():
    st = ExecStats()
    out = dict(map_unordered(blow_up, ITEMS, executor="threads", workers=3, stats=st))
    _check(st, out, fn_sends=0)

    lock_st = ExecStats()
    lock = threading.Lock()
    got = list(map_unordered(lambda x: x is lock, [lock], executor="threads", workers=1, stats=lock_st))
    assert got == [(lock, True)]
    assert lock_st.items == 1 and lock_st.unmeasured == 1 and lock_st.item_bytes == 0


def test_recording_collects_every_map_in_the_block_and_nothing_outside():
    with recording() as st:
        list(map_unordered(blow_up, [1, 2], executor="threads", workers=2))
        own = ExecStats()
        list(map_unordered(blow_up, [3], executor="threads", workers=1, stats=own))
    list(map_unordered(blow_up, [5], executor="threads", workers=1))   # after the block: not counted
    assert st.maps == 2 and st.items == 3 and st.results == 3
    assert st.result_bytes == sum(_size(bytes(1000 * x)) for x in (1, 2, 3))
    assert own.items == 1 and own.result_bytes == _size(bytes(3000))


def test_pickled_size_counts_out_of_band_buffers():
    a = np.zeros(100_000, dtype=np.uint8)
    assert pickled_size(a) >= a.nbytes
    assert pickled_size(b"x" * 10) == _size(b"x" * 10)


def test_no_stats_no_wrapping():
    gen = map_unordered(blow_up, [1], executor="threads", workers=1)
    assert gen.__name__ == "map_unordered_threads"   # the executor's own generator: nothing measured
    assert list(gen) == [(1, bytes(1000))]


ray = pytest.importorskip("ray")


def test_ray_counts_and_puts_the_function_once():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                 [str(Path(__file__).parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}})
    try:
        st = ExecStats()
        out = dict(map_unordered(blow_up, ITEMS, executor="ray", workers=2, stats=st))
    finally:
        ray.shutdown()
    assert out[40] == bytes(40000)
    _check(st, out, fn_sends=1)


def test_transfer_counts_what_a_stage_ships_itself_only_while_recording():
    from mmprolong.run.stats import transfer

    transfer(sent=bytes(500))   # nothing open: a no-op
    with recording() as st:
        transfer(sent=("part", 3, bytes(2000)), received=None)
        transfer(received={"ok": True})
    assert st.other_transfers == 2 and st.maps == 0
    assert st.other_sent_bytes == _size(("part", 3, bytes(2000)))
    assert st.other_received_bytes == _size({"ok": True})
    assert st.sent_bytes == st.other_sent_bytes and st.received_bytes == st.other_received_bytes
