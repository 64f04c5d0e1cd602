"""The Ray executor: the same per-item function as Ray tasks, for a cluster (or a local Ray started for the run).

Ray tasks (not a Ray Data pipeline) are used because each item needs its own time limit, its own failure record
and results streamed back as they finish: `ray.wait` gives the first finished, `ray.cancel(force=True)` kills
the worker of a task over its limit, and `max_calls` recycles workers after K tasks.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

from . import Failure, default_workers


def _call(fn: Callable, item):
    return fn(item)


def map_unordered_ray(fn: Callable, items: Iterable, *, workers: int | None = None, timeout_s: float | None = None,
                      max_tasks_per_worker: int | None = None, max_in_flight: int | None = None,
                      address: str | None = None) -> Iterator[tuple]:
    """Ray-task `map_unordered` (see `mmprolong.run`). Uses the running Ray if initialised, else starts one
    (`address` to join a cluster, otherwise a local Ray with `workers` CPUs) and shuts it down at the end."""
    import ray
    from ray.exceptions import GetTimeoutError, RayTaskError, TaskCancelledError, WorkerCrashedError

    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or default_workers(), include_dashboard=False, log_to_driver=False)
        started_here = True
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
            pending[remote.remote(fn_ref, item)] = [item, time.monotonic(), None]

    def outcome(ref, submitted: float):
        seconds = time.monotonic() - submitted
        try:
            return ray.get(ref, timeout=0)
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
                # a task's clock starts when at most `workers` tasks are ahead of it (Ray runs them FIFO)
                running = refs[:workers]
                for r in running:
                    if pending[r][2] is None:
                        pending[r][2] = now
                wait_s = max(0.0, min(pending[r][2] + timeout_s for r in running) - now)
            done, _ = ray.wait(refs, num_returns=1, timeout=wait_s)
            if done:
                ref = done[0]
                item, submitted, _ = pending.pop(ref)
                yield item, outcome(ref, submitted)
            elif timeout_s is not None:
                now = time.monotonic()
                for r in refs[:workers]:
                    if pending[r][2] is not None and now - pending[r][2] >= timeout_s:
                        item, submitted, _ = pending.pop(r)
                        ray.cancel(r, force=True)
                        yield item, Failure("timeout", f"ran over the {timeout_s:g} s limit; worker killed",
                                            now - submitted)
            fill()
    finally:
        for r in pending:
            ray.cancel(r, force=True)
        if started_here:
            ray.shutdown()
