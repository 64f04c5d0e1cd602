"""Ingest against the bare loop, side by side in one run: `mmprolong ingest` as a user runs it (a fresh process,
start-up, hashing, process pool, sections, Parquet store, report) against a bare pypdfium2 script that renders each
page at DPI, writes it as a JPEG (quality 90) and writes its text layer, also a fresh process.

    python bench/ingest.py --pdfs DIR... --label NAME [--min-pages 2000] [--pairs 3]
    python bench/ingest.py                         # the demo corpus (generated)
    python bench/ingest.py --pdfs DIR... --label NAME --ocr-check [--min-pages 600]

Rounds alternate (bare, ours with 1 worker, ours with 2 workers), `--pairs` times; the figures are medians over
rounds of wall-clock seconds, start-up included. Targets: ours(1) >= 1.0 x bare, ours(2) >= 1.9 x bare.
`--ocr-check` alternates `--ocr off` and `--ocr auto` (1 worker) on born-digital PDFs instead: target auto within
1.1 x off. PDFs are taken from the inputs in order (distinct files of 8-120 pages) until `--min-pages`.
Load averages before and after are reported: this machine is shared, so wall-clock ratios are only as good as the
minutes they were measured in.

Writes (or replaces) its section in bench/results/ingest.md and prints it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium

from device import cpu_name  # bench/device.py

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ingest.md"
ROOT = HERE.parent

BARE = r'''
import sys, pypdfium2 as pdfium
out, dpi, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for d, path in enumerate(paths):
    pdf = pdfium.PdfDocument(path)
    for i in range(len(pdf)):
        page = pdf[i]
        page.render(scale=dpi / 72).to_pil().save(f"{out}/{d}-{i}.jpg", quality=90)
        with open(f"{out}/{d}-{i}.txt", "w") as f:
            f.write(page.get_textpage().get_text_range())
    pdf.close()
'''


def pick(inputs: list[str], min_pages: int) -> tuple[list[str], int]:
    """Distinct readable PDFs of 8-120 pages, in sorted order, until `min_pages` pages."""
    files = []
    for p in inputs:
        files += sorted(Path(p).rglob("*.pdf")) if Path(p).is_dir() else [Path(p)]
    chosen, seen, total = [], set(), 0
    for f in files:
        h = hashlib.sha256(f.read_bytes()).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        try:
            pdf = pdfium.PdfDocument(str(f))
            n = len(pdf)
            pdf.close()
        except pdfium.PdfiumError:
            continue
        if 8 <= n <= 120:
            chosen.append(str(f))
            total += n
        if total >= min_pages:
            break
    return chosen, total


def become_subreaper() -> None:
    """Orphaned descendants (the process pool's fork server and its workers outlive the CLI process by a moment)
    are re-parented to this process, so that reaping them adds their CPU time to RUSAGE_CHILDREN (Linux)."""
    import ctypes

    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER


def reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict) -> float:
    """Wall seconds of one run; its CPU seconds (every process it started) are appended to CPU[cmd's name]."""
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    reap_all()
    CPU.setdefault("last", []).append(children_cpu() - c0)
    return wall


def run_bare(paths: list[str], dpi: int, env: dict) -> float:
    out = tempfile.mkdtemp(prefix="bench_bare_")
    try:
        return timed([sys.executable, "-c", BARE, out, str(dpi), *paths], env)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run_ours(paths: list[str], dpi: int, workers: int, ocr: str, env: dict) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench_ours_")) / "store"
    try:
        return timed([sys.executable, "-m", "mmprolong.cli.main", "ingest", *paths, "--out", str(out),
                      "--dpi", str(dpi), "--workers", str(workers), "--ocr", ocr, "--quiet"], env)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def write_section(label: str, snippet: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Ingest (PDF -> page store)\n"
    head = f"## {label}\n"
    chunks = re.split(r"(?m)^(?=## )", text)
    keep = [c.rstrip() for c in chunks if c.strip() and not c.startswith(head)]
    RESULTS.write_text("\n\n".join(keep + [head + snippet.rstrip()]) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdfs", nargs="+", help="PDFs or folders of real PDFs (default: the demo corpus, generated)")
    ap.add_argument("--label", default="demo corpus", help="section name in bench/results/ingest.md")
    ap.add_argument("--min-pages", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--dpi", type=int, default=144)
    ap.add_argument("--ocr-check", action="store_true", help="--ocr auto against --ocr off (1 worker)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    if not a.pdfs:
        from mmprolong.demo.corpus import write_demo_corpus

        demo = Path(tempfile.mkdtemp(prefix="bench_demo_"))
        write_demo_corpus(demo, n_docs=max(2, a.min_pages // 34))
        a.pdfs = [str(demo)]
    paths, pages = pick(a.pdfs, a.min_pages)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    if a.ocr_check:
        runs = {"ours --ocr off": lambda: run_ours(paths, a.dpi, 1, "off", env),
                "ours --ocr auto": lambda: run_ours(paths, a.dpi, 1, "auto", env)}
    else:
        runs = {"bare loop": lambda: run_bare(paths, a.dpi, env),
                "ours, 1 worker": lambda: run_ours(paths, a.dpi, 1, "off", env),
                "ours, 2 workers": lambda: run_ours(paths, a.dpi, 2, "off", env)}
    become_subreaper()
    load0 = os.getloadavg()
    secs: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    loads = []
    for r in range(a.pairs):
        for name, fn in runs.items():
            secs[name].append(fn())
            cpu[name].append(CPU["last"][-1])
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}: {name:16s} {secs[name][-1]:7.2f} s ({pages / secs[name][-1]:5.1f} pages/s), "
                  f"{cpu[name][-1]:6.2f} CPU s, load {loads[-1]:.1f}", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in secs.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    base = next(iter(runs))
    target = ({"ours --ocr auto": "<= 1.1 x off (time)"} if a.ocr_check else
              {"ours, 1 worker": ">= 1.0 x bare", "ours, 2 workers": ">= 1.9 x bare"})
    lines = [
        f"Machine: the project's shared CPU machine ({os.cpu_count()} cores, {cpu_name()}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load0[0]:.1f} before, "
        f"{min(loads):.1f}-{max(loads):.1f} after each run (a load above the core count means other work shared them).",
        f"Corpus: {label_of(a)}, {len(paths)} PDFs, {pages:,} pages, {a.dpi} DPI; each run a fresh process "
        f"(start-up included; ours writes the store and its report); median of {a.pairs} alternating rounds.",
        "",
        "| run | wall s per round | median wall s | pages/s | speed vs " + base + " (wall) | median CPU s "
        "(all its processes) | pages per CPU-s | per core vs " + base + " | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for k, v in secs.items():
        lines.append(f"| {k} | {' / '.join(f'{x:.1f}' for x in v)} | {med[k]:.1f} | {pages / med[k]:.1f} | "
                     f"{med[base] / med[k]:.2f} x | {mcpu[k]:.1f} | {pages / mcpu[k]:.1f} | "
                     f"{mcpu[base] / mcpu[k]:.2f} x | {target.get(k, '')} |")
    snippet = "\n".join(lines) + "\n"
    print(f"## {a.label}\n{snippet}")
    if not a.no_write:
        write_section(a.label, snippet)
    return 0


def label_of(a) -> str:
    return ", ".join(Path(p).name for p in a.pdfs)


if __name__ == "__main__":
    sys.exit(main())
