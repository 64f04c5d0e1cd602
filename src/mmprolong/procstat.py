"""A process's memory figures from /proc/PID/status (Linux): what workers report and benchmarks measure.

VmHWM is the peak of the process's own address space (`ru_maxrss` would carry the peak of the process it was
forked or exec'd from), VmRSS its resident bytes now, VmData what RLIMIT_DATA counts."""

from __future__ import annotations


def status_bytes(field: str, pid: int | str = "self") -> int:
    """/proc/PID/status's `field` ("VmRSS", "VmHWM", "VmData"...) in bytes; 0 when the kernel does not report it.
    Raises OSError where there is no /proc (not Linux) or the process is gone."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0
