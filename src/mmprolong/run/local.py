"""The local executor: a process pool on this machine whose workers can be killed one at a time.

pebble's ProcessPool is used because the standard pools cannot stop one running task: on a time-out pebble kills
the worker process that runs it and starts a new one, and `max_tasks` recycles workers after K tasks.
Workers come from a fork server by default (no fork of a parent that may hold threads, e.g. Ray or torch), with
the stage's module preloaded in it so that each new worker starts warm.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from pebble import ProcessExpired, ProcessPool

from . import Failure, default_workers


def _context(name: str, fn: Callable) -> mp.context.BaseContext:
    if name not in mp.get_all_start_methods():
        raise ValueError(f"mp_context: {name!r} not available here; one of {', '.join(mp.get_all_start_methods())}")
    ctx = mp.get_context(name)
    module = getattr(fn, "__module__", None)
    if name == "forkserver" and module and module != "__main__":
        ctx.set_forkserver_preload([module])
    return ctx


def _use_environment(env: dict) -> None:
    """Worker initializer: the caller's environment as it is now. A fork server keeps the environment of the moment
    it started, so a variable set later by the caller (an API key, say) would otherwise be missing in workers."""
    os.environ.clear()
    os.environ.update(env)


def _outcome(future, started: float, timeout_s: float | None):
    seconds = time.monotonic() - started
    try:
        return future.result()
    except FutureTimeout:
        return Failure("timeout", f"ran over the {timeout_s:g} s limit; worker killed", seconds)
    except ProcessExpired as e:
        return Failure("crashed", f"worker process died (exit code {e.exitcode})", seconds)
    except CancelledError:
        return Failure("crashed", "task cancelled", seconds)
    except BrokenProcessPool as e:  # no worker can run anything: the run stops, it is not one bad item
        raise RuntimeError(f"the process pool broke ({e}); if workers die at start-up, see the error above: with "
                           "mp_context 'forkserver' or 'spawn' the calling script needs an "
                           "`if __name__ == '__main__':` guard") from e
    except Exception as e:  # the function raised: data, not a crash of the run
        return Failure("error", f"{type(e).__name__}: {e}", seconds, getattr(e, "traceback", "") or "")


def map_unordered_local(fn: Callable, items: Iterable, *, workers: int | None = None, timeout_s: float | None = None,
                        max_tasks_per_worker: int | None = None, max_in_flight: int | None = None,
                        mp_context: str = "forkserver") -> Iterator[tuple]:
    """Process-pool `map_unordered` (see `mmprolong.run`)."""
    workers = workers or default_workers()
    limit = max_in_flight or 2 * workers
    pool = ProcessPool(max_workers=workers, max_tasks=max_tasks_per_worker or 0, context=_context(mp_context, fn),
                       initializer=_use_environment, initargs=(dict(os.environ),))
    pending: dict = {}
    source = iter(items)
    finished = False

    def fill() -> None:
        while len(pending) < limit:
            try:
                item = next(source)
            except StopIteration:
                return
            try:
                future = pool.schedule(fn, args=(item,), timeout=timeout_s)
            except RuntimeError as e:  # pebble: "Unexpected error within the Pool" = workers could not start
                raise RuntimeError(
                    f"{e}: worker processes could not start. With mp_context={mp_context!r} each worker imports "
                    "the calling script, which then needs an `if __name__ == '__main__':` guard "
                    "(or pass mp_context='fork')") from e
            pending[future] = (item, time.monotonic())

    try:
        fill()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                item, started = pending.pop(future)
                yield item, _outcome(future, started, timeout_s)
            fill()
        finished = True
    finally:
        if finished:
            pool.close()
        else:  # consumer stopped early or an error: don't wait for queued work
            pool.stop()
        pool.join()
