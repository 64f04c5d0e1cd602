"""Run every benchmark in bench/ and merge bench/results/*.md into bench/RESULTS.md.

Each bench script measures ratios side by side in one run and writes its own bench/results/<area>.md; this script
only runs them in turn and stitches the files together, so RESULTS.md never drifts from what was measured.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["tokens.py", "ingest.py", "synth.py", "build.py", "build_teacher.py", "eval_build.py"]  # build_teacher after build: it adds a section to build.md  # train.py needs a GPU: run it on one (see bench/results/train.md)


def _section(p: Path) -> str:
    """One results file as a section: headings one level down, image links relative to bench/."""
    text = re.sub(r"^(#+) ", r"#\1 ", p.read_text().strip(), flags=re.M)
    text = re.sub(r"\]\((?!https?:|/|results/)([^)]+\.png)\)", r"](results/\1)", text)
    return text + "\n"


def merge() -> Path:
    parts = sorted((HERE / "results").glob("*.md"))
    head = ("# Benchmark results\n\nMerged from bench/results/*.md by `python bench/run_all.py --merge`. Each section "
            "names its device, date and what was compared side by side.\n")
    body = "\n".join(_section(p) for p in parts)
    out = HERE / "RESULTS.md"
    out.write_text(head + "\n" + body)
    return out


def main(argv: list[str]) -> int:
    if "--merge" not in argv:
        for s in SCRIPTS:
            print(f"== bench/{s}", flush=True)
            rc = subprocess.call([sys.executable, str(HERE / s)])
            if rc:
                print(f"bench/{s} failed with exit code {rc}", file=sys.stderr)
                return rc
    print(f"wrote {merge()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
