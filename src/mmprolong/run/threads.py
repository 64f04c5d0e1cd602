"""The threads executor: `map_unordered` on threads of this process, for I/O-bound stages (a stage that waits on a
remote teacher model, say), where a process per task in flight would be wasteful.

Each call runs on its own daemon thread, at most `workers` at a time. A thread cannot be killed: a call over its
time limit yields Failure("timeout") at once, its thread is left to finish in the background (its result is
dropped) and a new call takes its place, so the stage should bound its own waits (e.g. HTTP time-outs).
`fn` runs in this process: it need not be picklable, but it must be thread-safe; `max_tasks_per_worker` has
nothing to recycle and is ignored; a crash of the interpreter (a segfault) ends the run, not one item.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from typing import Callable, Iterable, Iterator

from . import Failure, default_workers


def map_unordered_threads(fn: Callable, items: Iterable, *, workers: int | None = None,
                          timeout_s: float | None = None, max_in_flight: int | None = None) -> Iterator[tuple]:
    """Thread `map_unordered` (see `mmprolong.run` and this module's docstring)."""
    workers = workers or default_workers()
    limit = min(workers, max_in_flight or workers)  # a thread per call in flight: no queue ahead of the threads
    done: queue.Queue = queue.Queue()
    pending: dict[int, tuple] = {}  # task number -> (item, started)
    source = iter(items)
    counter = 0

    def call(n: int, item) -> None:
        started = time.monotonic()
        try:
            out = fn(item)
        except Exception as e:  # the function raised: data, not a crash of the run
            out = Failure("error", f"{type(e).__name__}: {e}", time.monotonic() - started, traceback.format_exc())
        except BaseException as e:  # noqa: BLE001 - SystemExit & co. in a worker thread: one bad item
            out = Failure("crashed", f"{type(e).__name__}: {e}", time.monotonic() - started, traceback.format_exc())
        done.put((n, out))

    def fill() -> None:
        nonlocal counter
        while len(pending) < limit:
            try:
                item = next(source)
            except StopIteration:
                return
            n, counter = counter, counter + 1
            pending[n] = (item, time.monotonic())
            threading.Thread(target=call, args=(n, item), name=f"map-unordered-{n}", daemon=True).start()

    fill()
    while pending:
        wait = None
        if timeout_s is not None:
            first = min(started for _, started in pending.values())
            wait = max(0.0, first + timeout_s - time.monotonic())
        try:
            n, out = done.get(timeout=wait)
        except queue.Empty:
            n, out = None, None
        if n is not None and n in pending:  # else: a call that already timed out finished late; dropped
            item, started = pending.pop(n)
            yield item, out
        if timeout_s is not None:
            now = time.monotonic()
            for n in [k for k, (_, s) in pending.items() if now - s >= timeout_s]:
                item, started = pending.pop(n)
                yield item, Failure("timeout", f"ran over the {timeout_s:g} s limit; its thread is abandoned",
                                    now - started)
        fill()
