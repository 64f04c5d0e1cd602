"""Executors: map one plain per-item function over many items, in parallel, failures as data.

Every per-document stage (ingest, synthesis, dataset build, eval build) is a plain function `fn(item) -> result`
and is mapped over the corpus by `map_unordered`; the stage never knows which executor runs it.

    from mmprolong.run import map_unordered, Failure
    for item, out in map_unordered(fn, items, executor="local", workers=4, timeout_s=300):
        if isinstance(out, Failure):   # out.kind in {"timeout", "crashed", "error"}
            ...                        # record it and go on; the run never stops for one bad item
        else:
            ...                        # write the result now (stream; don't collect the corpus)

Contract:
- results arrive as they finish (not in input order), each paired with its item;
- `items` is consumed lazily, at most `max_in_flight` (default 2 x workers) at a time, so a generator over a
  million paths is fine and memory stays flat; an iterator may pause (raise StopIteration while it has more to
  give): it is asked again after each result, and the map ends when it says stop with nothing in flight;
- `fn` and the items must be picklable (a module-level function, not a lambda or a closure);
- `timeout_s` bounds one call: the process running it is killed and replaced, the item yields Failure("timeout");
- a worker that dies (segfault, OOM kill, os._exit) yields Failure("crashed") and is replaced;
- an exception raised by `fn` yields Failure("error", "Type: message") with its traceback;
- `max_tasks_per_worker=K` replaces each worker process after K calls, bounding memory if a backend leaks;
- `max_worker_memory_mb` (ray): each task may grow its worker's data memory by at most that much (RLIMIT_DATA set
  for the task and restored after, ray_exec.py); past it, Failure("out_of_memory"). The local executor's stages set
  their own limit once per worker process (corpus/ingest.py `limit_worker_memory`).

Executors: "local" (default): a process pool on this machine (pebble's ProcessPool, which kills a worker whose
task runs past its time limit). Workers start from a fork server (`mp_context="forkserver"`) with `fn`'s module
preloaded; like any spawn-style pool, a calling *script* then needs an `if __name__ == "__main__":` guard
(a broken pool raises RuntimeError saying so; `mp_context="fork"` avoids it). "ray": Ray tasks on a Ray cluster
(`ray_address`) or on a local Ray started for the run and shut down after it; the time limit runs inside the task.
"threads": threads of the calling process (threads.py), for I/O-bound stages such as waiting on a remote teacher
model, where `workers` (tens to hundreds) is the number of calls in flight; `fn` must be thread-safe but need not be
picklable; a thread cannot be killed, so a call over `timeout_s` yields Failure("timeout") at once and its result,
when it comes, is dropped; `max_tasks_per_worker` is ignored.

Statistics (run/stats.py): `stats=ExecStats()` on one call, or `with recording() as st:` around code that maps
(a stage), counts items, results, failures and the bytes the driver sends and receives (pickle protocol 5 sizes,
measured only when asked, the measuring time reported apart).
Per-process caches (a tokenizer, a PDF backend) belong in `functools.cache`d helpers inside the stage's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from .stats import ExecStats

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray", "threads")
PROCESS_EXECUTORS = ("local", "ray")  # for CPU-bound stages and libraries that are not thread-safe (pdfium)


@dataclass(frozen=True)
class Failure:
    """Why one item produced no result. `kind`: "timeout" | "crashed" | "error" | "out_of_memory" (ray with
    `max_worker_memory_mb`)."""

    kind: str
    error: str
    seconds: float = 0.0
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.error}"


def map_unordered(fn: Callable[[T], R], items: Iterable[T], *, executor: str = "local", workers: int | None = None,
                  timeout_s: float | None = None, max_tasks_per_worker: int | None = None,
                  max_in_flight: int | None = None, mp_context: str = "forkserver",
                  ray_address: str | None = None, max_worker_memory_mb: int | None = None,
                  stats: "ExecStats | None" = None) -> Iterator[tuple[T, R | Failure]]:
    """Yield `(item, fn(item) or Failure)` for every item, as they finish. See the module docstring.
    `stats`: count items, results and their pickled bytes into it (run/stats.py; also on inside `recording()`)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor: unknown {executor!r}; expected one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers: must be >= 1, got {workers}")
    if timeout_s is not None and timeout_s <= 0:
        raise ValueError(f"timeout_s: must be > 0, got {timeout_s}")
    if max_tasks_per_worker is not None and max_tasks_per_worker < 1:
        raise ValueError(f"max_tasks_per_worker: must be >= 1, got {max_tasks_per_worker}")
    from .stats import counted_items, counted_results, targets
    sinks = targets(stats)
    if not sinks:
        return _run(fn, items, executor, workers, timeout_s, max_tasks_per_worker, max_in_flight, mp_context,
                    ray_address, max_worker_memory_mb)
    return counted_results(_run(fn, counted_items(items, sinks), executor, workers, timeout_s, max_tasks_per_worker,
                                max_in_flight, mp_context, ray_address, max_worker_memory_mb),
                           sinks, fn, executor, Failure)


def _run(fn, items, executor, workers, timeout_s, max_tasks_per_worker, max_in_flight, mp_context, ray_address,
         max_worker_memory_mb) -> Iterator[tuple]:
    if executor == "local":
        from .local import map_unordered_local
        return map_unordered_local(fn, items, workers=workers, timeout_s=timeout_s,
                                   max_tasks_per_worker=max_tasks_per_worker, max_in_flight=max_in_flight,
                                   mp_context=mp_context)
    if executor == "threads":
        from .threads import map_unordered_threads
        return map_unordered_threads(fn, items, workers=workers, timeout_s=timeout_s, max_in_flight=max_in_flight)
    from .ray_exec import map_unordered_ray
    return map_unordered_ray(fn, items, workers=workers, timeout_s=timeout_s,
                             max_tasks_per_worker=max_tasks_per_worker, max_in_flight=max_in_flight,
                             address=ray_address, memory_mb=max_worker_memory_mb)


def default_workers() -> int:
    """All cores this process may use."""
    import os
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


__all__ = ["Failure", "map_unordered", "default_workers", "EXECUTORS", "PROCESS_EXECUTORS"]
