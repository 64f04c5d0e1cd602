"""The Ray executor: the same per-item function as Ray tasks, for a cluster (or a local Ray started for the run).

Ray tasks (not a Ray Data pipeline) are used because each item needs its own time limit, its own failure record
and results streamed back as they finish (`ray.wait`); `max_calls` recycles workers after K tasks.
Time limits: the driver cannot see when a queued task starts (worker start-up can take seconds), so the clock
runs inside the task (SIGALRM interrupts the function at `timeout_s`: Failure "timeout"); a task that does not
return even then (stuck in C code) is killed by the driver with `ray.cancel(force=True)` after a grace period.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Callable, Iterable, Iterator

from . import Failure, default_workers


class _Overtime(BaseException):
    """Raised in the task by SIGALRM; a BaseException so that the function's own `except Exception` can't eat it."""


def _on_alarm(signum, frame):
    raise _Overtime()


def _data_bytes() -> int:
    """This process's data size (VmData: heap and private anonymous mappings, what RLIMIT_DATA counts)."""
    from ..procstat import status_bytes

    return status_bytes("VmData")


@contextlib.contextmanager
def memory_limit(memory_mb: int | None):
    """RLIMIT_DATA at the current data size plus `memory_mb` for the block, the previous limit restored after."""
    if not memory_mb:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = _data_bytes() + memory_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY:
        want = min(want, soft)
    resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _call(fn: Callable, item, timeout_s: float | None, memory_mb: int | None = None):
    t0 = time.monotonic()
    try:
        with memory_limit(memory_mb):
            return _timed(fn, item, timeout_s)
    except MemoryError:
        return Failure("out_of_memory", f"ran out of the task's {memory_mb} MB memory limit", time.monotonic() - t0)


def _timed(fn: Callable, item, timeout_s: float | None):
    if timeout_s is None:
        return fn(item)
    t0 = time.monotonic()
    try:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    except ValueError:  # not the main thread of the worker: only the driver's hard limit applies
        return fn(item)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(item)
    except _Overtime:
        return Failure("timeout", f"ran over the {timeout_s:g} s limit", time.monotonic() - t0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def ray_session(workers: int | None = None, address: str | None = None):
    """Ray up for the block: the Ray this process already runs, else one started here and shut down after (joining
    `address`, or a local Ray with `workers` CPUs, all cores by default)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # address="local": a Ray of its own, even when a cluster runs on this machine (`ray start`, or a test's
        # ray.cluster_utils.Cluster): a bare ray.init() would join that one, which then refuses num_cpus
        ray.init(address="local", num_cpus=workers or default_workers(), include_dashboard=False,
                 log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def grace_s(timeout_s: float) -> float:
    """Extra time before the driver kills a task that ignored its in-task alarm (start-up included)."""
    return max(30.0, timeout_s)


def map_unordered_ray(fn: Callable, items: Iterable, *, workers: int | None = None, timeout_s: float | None = None,
                      max_tasks_per_worker: int | None = None, max_in_flight: int | None = None,
                      address: str | None = None, memory_mb: int | None = None) -> Iterator[tuple]:
    """Ray-task `map_unordered` (see `mmprolong.run`). Uses the running Ray if initialised, else starts one
    (`address` to join a cluster, otherwise a local Ray with `workers` CPUs) and shuts it down at the end."""
    import ray
    from ray.exceptions import GetTimeoutError, RayTaskError, TaskCancelledError, WorkerCrashedError

    with ray_session(workers, address):
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        limit = max_in_flight or 2 * workers
        remote = ray.remote(num_cpus=1, max_retries=0, max_calls=max_tasks_per_worker or 0)(_call)
        fn_ref = ray.put(fn)
        pending: dict = {}  # ObjectRef -> (item, submitted, started)
        source = iter(items)

        def fill() -> None:
            while len(pending) < limit:
                try:
                    item = next(source)
                except StopIteration:
                    return
                pending[remote.remote(fn_ref, item, timeout_s, memory_mb)] = [item, time.monotonic(), None]

        def outcome(ref, submitted: float):
            seconds = time.monotonic() - submitted
            try:
                return ray.get(ref, timeout=0)   # a Failure("timeout") from the task's alarm passes through
            except RayTaskError as e:
                cause = e.cause if getattr(e, "cause", None) is not None else e
                return Failure("error", f"{type(cause).__name__}: {cause}", seconds, str(e))
            except (WorkerCrashedError, TaskCancelledError) as e:
                return Failure("crashed", f"{type(e).__name__}: {e}", seconds)
            except GetTimeoutError:
                return Failure("crashed", "result not available", seconds)

        try:
            fill()
            while pending:
                refs = list(pending)
                now = time.monotonic()
                wait_s = None
                if timeout_s is not None:
                    # hard limit: the in-task alarm plus a grace period, counted from when at most `workers`
                    # tasks are ahead of this one (Ray runs them in about FIFO order)
                    hard = timeout_s + grace_s(timeout_s)
                    running = refs[:workers]
                    for r in running:
                        if pending[r][2] is None:
                            pending[r][2] = now
                    wait_s = max(0.0, min(pending[r][2] + hard for r in running) - now)
                done, _ = ray.wait(refs, num_returns=1, timeout=wait_s)
                if done:
                    ref = done[0]
                    item, submitted, _ = pending.pop(ref)
                    yield item, outcome(ref, submitted)
                elif timeout_s is not None:
                    now = time.monotonic()
                    for r in refs[:workers]:
                        if pending[r][2] is not None and now - pending[r][2] >= hard:
                            item, submitted, _ = pending.pop(r)
                            ray.cancel(r, force=True)
                            yield item, Failure("timeout", f"ran over the {timeout_s:g} s limit and did not stop; "
                                                           f"worker killed", now - submitted)
                fill()
        finally:
            for r in pending:
                ray.cancel(r, force=True)
