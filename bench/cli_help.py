"""`mmprolong --help` start-up time against a bare `python -c pass` and against importing the libraries it defers;
`mmprolong plan` against the same estimate made through transformers' model config (what `plan` did before).

Writes bench/results/cli.md. Minimum of N runs each (the least-disturbed run; N_HEAVY for the runs that import
torch), side by side in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from device import cpu_name

HERE = Path(__file__).resolve().parent
N = 15
N_HEAVY = 3
PLAN = ["plan", "--model", "qwen2.5-vl-7b", "--length", "128K", "--gpus", "8", "--sp", "2", "--gpu-mem", "96"]
PLAN_BEFORE = ("from mmprolong.train.model import preset_config; from mmprolong.train.plan import plan; "
               "print(plan(preset_config('qwen2.5-vl-7b'), 'qwen2.5-vl-7b', 131072, 8, 2, gpu_mem_gib=96)"
               ".to_markdown())")


def best(cmd: list[str], n: int = N) -> float:
    times = []
    for _ in range(n):
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
        ("mmprolong " + " ".join(PLAN), best([py, "-m", "mmprolong.cli.main", *PLAN])),
        ("the same plan through transformers' config (plan before: imports torch + transformers)",
         best([py, "-c", PLAN_BEFORE], N_HEAVY)),
    ]
    base = rows[0][1]
    load = os.getloadavg()[0]
    lines = ["# CLI start-up", "",
             f"{cpu_name()}, {date.today().isoformat()}; best of {N} runs each ({N_HEAVY} for the last row); "
             f"load average {load:.1f} at the end of the run (a shared 2-core machine).", "",
             "| command | seconds | vs bare python |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {t:.3f} | {t / base:.1f}x |" for name, t in rows]
    lines += ["", "Target: `mmprolong --help` under 0.3 s. Building the parser imports no ML or data library "
              "(checked by tests/cli/test_help.py); each command imports what it needs when it runs. "
              "`mmprolong plan` on a preset is arithmetic over the model's shape (train/presets.py, train/plan.py): "
              "it imports neither torch nor transformers (checked by tests/train/test_plan.py); a model folder still "
              "goes through transformers' AutoConfig.", "",
              f"`mmprolong plan` before -> after, in this run: {rows[-1][1]:.1f} s -> {rows[-2][1]:.2f} s "
              f"({rows[-1][1] / rows[-2][1]:.0f}x)."]
    (HERE / "results" / "cli.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
