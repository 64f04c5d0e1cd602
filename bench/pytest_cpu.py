"""A pytest plugin that records each test's CPU seconds (its process, plus the child processes it waited for) and wall
seconds, one TSV line per test in $PYTEST_CPU_OUT: the suite's cost compared on a machine shared with other work,
where wall clocks are inflated by the load and CPU seconds are not.

    PYTHONPATH=bench PYTEST_CPU_OUT=cpu.tsv python -m pytest -p pytest_cpu -n 2 --dist loadscope --no-loadscope-reorder

Child processes of a forkserver (process pools) are not counted until the forkserver exits: a lower bound.
"""

from __future__ import annotations

import os
import resource
import time

import pytest


def _cpu() -> tuple[float, float]:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    s0, c0 = _cpu()
    w0 = time.perf_counter()
    yield
    s1, c1 = _cpu()
    w1 = time.perf_counter()
    with open(os.environ.get("PYTEST_CPU_OUT", "pytest_cpu.tsv"), "a") as f:
        f.write(f"{item.nodeid}\t{w1 - w0:.2f}\t{s1 - s0:.2f}\t{c1 - c0:.2f}\t"
                f"{os.environ.get('PYTEST_XDIST_WORKER', '-')}\n")
