"""Peak bytes of live tensor storages during a computation, on any device (CPU included).

CUDA has `max_memory_allocated`; the CPU has no such counter, so planner checks on CPU count what the program
holds: every storage an operator creates is added when it appears and removed when it is freed (a weakref
finalizer on the storage). Saved activations, gradients, optimizer states and temporaries returned by operators
are all storages, so the peak is the same quantity the CUDA allocator reports, less kernel-internal workspaces and
allocator rounding. Storages that exist when tracking starts (parameters, inputs) are counted as a baseline.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakMemory(TorchDispatchMode):
    """with PeakMemory(baseline_tensors) as pm: ...  ->  pm.peak_bytes (baseline included), pm.baseline_bytes."""

    def __init__(self, baseline=()):
        super().__init__()
        self.live: dict[int, int] = {}
        self.baseline_bytes = 0
        for t in baseline:
            if isinstance(t, torch.Tensor):
                self._add(t, into_baseline=True)
        self.current = self.baseline_bytes
        self.peak_bytes = self.current

    def _add(self, t: torch.Tensor, into_baseline: bool = False) -> None:
        try:
            st = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return
        key = st.data_ptr()
        if key == 0 or key in self.live:
            return
        n = st.nbytes()
        self.live[key] = n
        if into_baseline:
            self.baseline_bytes += n
            return
        self.current += n
        self.peak_bytes = max(self.peak_bytes, self.current)
        weakref.finalize(st, self._free, key)

    def _free(self, key: int) -> None:
        n = self.live.pop(key, 0)
        self.current -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not t.is_meta:
                self._add(t)
        return out
