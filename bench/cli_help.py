"""`mmprolong --help` start-up time against a bare `python -c pass` and against importing the libraries it defers.

Writes bench/results/cli.md. Minimum of N runs each (the least-disturbed run), side by side in one process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from device import cpu_name

HERE = Path(__file__).resolve().parent
N = 15


def best(cmd: list[str]) -> float:
    times = []
    for _ in range(N):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    py = sys.executable
    rows = [
        ("python -c pass", best([py, "-c", "pass"])),
        ("mmprolong --help", best([py, "-m", "mmprolong.cli.main", "--help"])),
        ("mmprolong build --help", best([py, "-m", "mmprolong.cli.main", "build", "--help"])),
        ("import pyarrow.dataset (what --help used to pull in)", best([py, "-c", "import pyarrow.dataset"])),
    ]
    base = rows[0][1]
    lines = ["# CLI start-up", "", f"{cpu_name()}, {date.today().isoformat()}; best of {N} runs each.", "",
             "| command | seconds | vs bare python |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {t:.3f} | {t / base:.1f}x |" for name, t in rows]
    lines += ["", "Target: `mmprolong --help` under 0.3 s. Building the parser imports no ML or data library "
              "(checked by tests/cli/test_help.py); each command imports what it needs when it runs."]
    (HERE / "results" / "cli.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
