"""The Ray executor on a real local Ray (num_cpus=2): same contract as the local pool. Kept short: one Ray start."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mmprolong.run import Failure, map_unordered

ray = pytest.importorskip("ray")


def task(spec: tuple[str, float]):
    kind, value = spec
    if kind == "sleep":
        time.sleep(value)
        return "slept"
    if kind == "stuck":  # ignores the in-task alarm, like a call stuck in C code
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(value)
        return "slept"
    if kind == "raise":
        raise ValueError(f"bad item {value}")
    if kind == "alloc":  # an explosion: value MB at once
        return len(bytearray(int(value) * 2**20))
    if kind == "limit":
        import resource
        return resource.getrlimit(resource.RLIMIT_DATA)[0]
    return value * value


@pytest.fixture(scope="module")
def local_ray():
    # Ray workers import `task` by module name (run.test_ray_exec): let them find the tests folder, and the
    # mmprolong of this test session (PYTHONPATH, when set) rather than an installed one
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                 [str(Path(__file__).parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}})
    yield
    ray.shutdown()


def test_ray_results_errors_and_timeouts(local_ray):
    items = [("sq", i) for i in range(8)] + [("raise", 7), ("sleep", 60)]
    t0 = time.monotonic()
    out = dict(map_unordered(task, items, executor="ray", workers=2, timeout_s=3))
    assert time.monotonic() - t0 < 45
    assert {k: v for k, v in out.items() if k[0] == "sq"} == {("sq", i): i * i for i in range(8)}
    assert isinstance(out[("raise", 7)], Failure) and out[("raise", 7)].kind == "error"
    assert "bad item 7" in out[("raise", 7)].error
    assert out[("sleep", 60)].kind == "timeout"
    assert ray.is_initialized()  # a Ray we did not start is left running


def test_ray_kills_a_task_that_ignores_its_alarm(local_ray, monkeypatch):
    from mmprolong.run import ray_exec

    monkeypatch.setattr(ray_exec, "grace_s", lambda timeout_s: 6.0)  # hard kill at 7 s
    t0 = time.monotonic()
    out = dict(map_unordered(task, [("stuck", 60), ("sq", 3)], executor="ray", workers=2, timeout_s=1))
    assert time.monotonic() - t0 < 30
    assert out[("stuck", 60)].kind == "timeout" and "worker killed" in out[("stuck", 60)].error
    assert out[("sq", 3)] == 9


def test_ingest_runs_on_ray(local_ray, demo_pdfs, broken_pdfs, tmp_path):
    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.corpus.store import PageStore

    s = ingest([str(demo_pdfs[0]), str(broken_pdfs["encrypted"])], tmp_path / "store",
               IngestConfig(executor="ray", workers=2, dpi=36, progress=False))
    assert s.counts == {"encrypted": 1, "ok": 1}
    docs = list(PageStore(tmp_path / "store").iter_documents(with_images=False))
    assert len(docs) == 1 and [p["page"] for p in docs[0].pages] == list(range(docs[0].n_pages))
    assert ray.is_initialized()


def test_ray_task_memory_limit_gives_out_of_memory_and_is_restored(local_ray):
    import resource

    items = [("alloc", 1024), ("alloc", 16), ("sq", 3)]
    out = dict(map_unordered(task, items, executor="ray", workers=2, max_worker_memory_mb=256))
    assert isinstance(out[("alloc", 1024)], Failure) and out[("alloc", 1024)].kind == "out_of_memory"
    assert "256 MB" in out[("alloc", 1024)].error
    assert out[("alloc", 16)] == 16 * 2**20 and out[("sq", 3)] == 9   # small tasks under the same limit run
    # the limit is the task's, not the worker's: later tasks in the same workers run without it
    after = dict(map_unordered(task, [("limit", i) for i in range(4)] + [("alloc", 300)], executor="ray",
                               workers=2))
    assert all(after[("limit", i)] == resource.getrlimit(resource.RLIMIT_DATA)[0] for i in range(4))
    assert after[("alloc", 300)] == 300 * 2**20
