"""What the driver of a `map_unordered` run sends and receives: items, results and their pickled bytes.

Cheap and off by default. A caller asks for it in one of two ways:

    from mmprolong.run import map_unordered
    from mmprolong.run.stats import ExecStats, recording

    st = ExecStats()
    for item, out in map_unordered(fn, items, executor="ray", stats=st):   # this one map
        ...
    with recording() as st:        # every map_unordered of this process inside the block, however deep
        ingest(...)                # (a stage calls map_unordered itself; bench/scaleout.py reads it this way)
    st.sent_bytes, st.received_bytes, st.items

What is counted, in the driver process, as the executor hands things over:
- `items`, `item_bytes`: each submitted item, pickled with protocol 5 (what Ray's and multiprocessing's
  serializers send; out-of-band buffers counted in full);
- `fn_bytes`, `fn_sends`: the mapped function pickled once, and how often the executor ships it: the local
  process pool sends it with every task, Ray puts it in the object store once, threads never send it;
- `results`, `result_bytes`, `failures`: each result (a Failure included) as it is yielded;
- `unmeasured`: objects that could not be pickled (allowed with the threads executor): counted, not sized;
- `overhead_s`: CPU time the driver spent measuring (the pickling above), so a benchmark can subtract it;
- `other_*`: what a stage ships itself, outside `map_unordered` (a Ray task it submits directly, say), reported
  with `transfer(sent=..., received=...)` where it does so; free when nothing records.

Bytes a stage moves outside `map_unordered` (a worker that reads its document from shared storage, a worker
that writes its own part files) are not the driver's and are not counted: that is the point of measuring.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

_active: list["ExecStats"] = []    # recorders opened by `recording()`, innermost last
_lock = threading.Lock()


@dataclass
class ExecStats:
    """Counts for one or more `map_unordered` runs (see the module docstring)."""

    maps: int = 0
    items: int = 0
    item_bytes: int = 0
    fn_bytes: int = 0        # summed over maps: each map's function, pickled once
    fn_sends: int = 0
    fn_sent_bytes: int = 0   # bytes of the function actually shipped (fn size x sends, per map)
    results: int = 0
    result_bytes: int = 0
    failures: int = 0
    unmeasured: int = 0
    overhead_s: float = 0.0
    other_transfers: int = 0
    other_sent_bytes: int = 0
    other_received_bytes: int = 0

    @property
    def sent_bytes(self) -> int:
        """Everything the driver sends: items, the function as often as the executor ships it, and what stages
        reported with `transfer`."""
        return self.item_bytes + self.fn_sent_bytes + self.other_sent_bytes

    @property
    def received_bytes(self) -> int:
        return self.result_bytes + self.other_received_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "sent_bytes": self.sent_bytes, "received_bytes": self.received_bytes}


def pickled_size(obj) -> int | None:
    """Bytes of `obj` pickled with protocol 5, out-of-band buffers included; None when it cannot be pickled."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    except Exception:  # noqa: BLE001 - a lambda or a lock (threads executor): try cloudpickle, as Ray would
        try:
            import cloudpickle
            data = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        except Exception:  # noqa: BLE001
            return None
    return len(data) + sum(b.raw().nbytes for b in buffers)


@contextlib.contextmanager
def recording(stats: ExecStats | None = None) -> Iterator[ExecStats]:
    """Count every `map_unordered` of this process (any thread) inside the block into `stats` (a new one by
    default), in addition to a `stats=` a call passes itself."""
    stats = stats if stats is not None else ExecStats()
    with _lock:
        _active.append(stats)
    try:
        yield stats
    finally:
        with _lock:
            _active.remove(stats)


def targets(explicit: ExecStats | None) -> list[ExecStats]:
    """The recorders one map reports to: its own `stats=` and every open `recording()`."""
    with _lock:
        found = list(_active)
    if explicit is not None and all(explicit is not s for s in found):
        found.append(explicit)
    return found


def transfer(sent=None, received=None) -> None:
    """Count objects a stage ships to or gets from another process outside `map_unordered` (e.g. the arguments and
    the result of a Ray task it runs itself) into every open `recording()`. Nothing is pickled when none is open."""
    sinks = targets(None)
    if not sinks:
        return
    _add(sinks, "other_transfers", 1)
    if sent is not None:
        _size(sinks, sent, "other_sent_bytes")
    if received is not None:
        _size(sinks, received, "other_received_bytes")


def _add(sinks: list[ExecStats], field: str, n: int | float) -> None:
    for s in sinks:
        setattr(s, field, getattr(s, field) + n)


def _size(sinks: list[ExecStats], obj, field: str) -> None:
    t0 = time.process_time()
    n = pickled_size(obj)
    if n is None:
        _add(sinks, "unmeasured", 1)
    else:
        _add(sinks, field, n)
    _add(sinks, "overhead_s", time.process_time() - t0)


class counted_items:
    """`items` as the executor pulls them, each counted and sized. An iterator, not a generator, so that a source
    that pauses (see `mmprolong.run`) pauses through it."""

    def __init__(self, items: Iterable, sinks: list[ExecStats]):
        self.source, self.sinks = iter(items), sinks

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self.source)
        _add(self.sinks, "items", 1)
        _size(self.sinks, item, "item_bytes")
        return item


def counted_results(results: Iterator[tuple], sinks: list[ExecStats], fn, executor: str, failure_type
                    ) -> Iterator[tuple]:
    """The executor's `(item, result)` stream, each result counted and sized; the function's size and how often
    the executor ships it (local: with every task; ray: once; threads: never) added at the end of the map."""
    t0 = time.process_time()
    fn_size = pickled_size(fn) or 0
    _add(sinks, "overhead_s", time.process_time() - t0)
    _add(sinks, "maps", 1)
    _add(sinks, "fn_bytes", fn_size)
    if executor == "ray":
        _add(sinks, "fn_sends", 1)
        _add(sinks, "fn_sent_bytes", fn_size)
    sent_before = [s.items for s in sinks]
    try:
        for item, out in results:
            _add(sinks, "results", 1)
            if isinstance(out, failure_type):
                _add(sinks, "failures", 1)
            _size(sinks, out, "result_bytes")
            yield item, out
    finally:
        if executor == "local":   # pebble pickles the function with each task
            for s, before in zip(sinks, sent_before):
                s.fn_sends += s.items - before
                s.fn_sent_bytes += (s.items - before) * fn_size
