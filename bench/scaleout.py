"""Scale-out: what the DRIVER of `ingest --executor ray` and `build --executor ray` costs, at 1x to 8x the demo corpus.

    PYTHONPATH=$PWD/src python bench/scaleout.py --label before      # or --label after; --scales 1,2,4,8 (default)

A local Ray cluster on this machine (ray.cluster_utils.Cluster: a head node with 0 CPUs, so that no task runs
beside the driver, and two worker nodes with 1 CPU each; all three on this machine's address) runs, at every scale,
`ingest` of the corpus into a fresh store and then `build` (recipe `demo`, rules generator, budget lifted so every
planned document is built). Scale k is the demo corpus generated with seeds 0..k-1 (6 documents per seed, distinct
bytes, so no duplicate collapses it).

Each phase runs in its own fresh driver process (`--driver`), so its peak RSS (ru_maxrss, a lifetime figure) is
that phase's alone. Per phase and scale it records, for the driver process only (not Ray's processes, not the
workers): CPU time of the call (time.process_time, all its threads; the stats' own pickling subtracted), peak RSS,
RSS before the call (after imports), wall time, and from `mmprolong.run.stats.recording()` the items the driver
mapped and the pickled bytes it sent (items + the function) and received (results), per document.

Raw figures go to bench/results/scaleout/<label>.json; bench/results/scaleout.md is regenerated from every JSON
there (one section per label, with bench/results/scaleout/<label>.notes.md under it when present, then a
before/after comparison when both exist). The script prints what it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RAW = RESULTS / "scaleout"
DOCS_PER_SEED = 6          # the demo corpus (`mmprolong demo` default)
OBJECT_STORE_MB = 256      # per node: the machine is shared


# -------------------------------------------------------------------------------------------------------------
# driver side (a fresh process per phase and scale)
# -------------------------------------------------------------------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_parts() -> dict[str, float]:
    """RSS split (MB): anonymous (the heap: Python objects, buffers), shared memory (Ray's object store pages
    this process touched: its mapping counts in RSS), file-backed (libraries)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssShmem:", "RssFile:")):
                k, v = line.split(":")
                out[k[3:].lower()] = int(v.split()[0]) / 1024
    return out


class _Sampler:
    """Highest anonymous and shared-memory RSS seen, sampled every 20 ms on a thread while the call runs."""

    def __init__(self):
        import threading
        self.peak = {"anon": 0.0, "shmem": 0.0, "file": 0.0}
        self.cpu_s = 0.0   # the sampler's own CPU time, taken off the driver's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.thread_time()
        while not self._stop.wait(0.02):
            for k, v in _rss_parts().items():
                self.peak[k] = max(self.peak[k], v)
        self.cpu_s = time.thread_time() - t0

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _io() -> dict[str, int]:
    """This process's read/write syscall bytes (files, pipes and sockets; page-cache hits included)."""
    out = {}
    with open("/proc/self/io") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return {"read": out.get("rchar", 0), "written": out.get("wchar", 0)}


def drive(args) -> int:
    """One phase as the driver of the cluster at `args.address`; writes its figures to `args.json`."""
    from mmprolong.run.stats import recording

    if args.driver == "ingest":
        from mmprolong.corpus.ingest import IngestConfig, ingest
        call = lambda: ingest(args.inputs, args.store, IngestConfig(executor="ray", ray_address=args.address,  # noqa: E731
                                                                      progress=False))
    else:
        from mmprolong.dataset.build import build
        from mmprolong.recipe import load_recipe
        recipe = load_recipe("demo").model_copy(update={"budget_tokens": 10**12})
        call = lambda: build(recipe, args.store, args.build_out, executor="ray", ray_address=args.address,  # noqa: E731
                             progress=False, report=False)
    import ray  # noqa: F401 - imported before the clock starts, as the stage would
    rss0 = _rss_mb()
    io0 = _io()
    cpu0, wall0 = time.process_time(), time.monotonic()
    with recording() as st, _Sampler() as sampler:
        summary = call()
    cpu = time.process_time() - cpu0
    io1 = _io()
    wall = time.monotonic() - wall0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"phase": args.driver, "driver_cpu_s": cpu - st.overhead_s - sampler.cpu_s,
           "stats_overhead_s": st.overhead_s, "sampler_cpu_s": sampler.cpu_s,
           "driver_peak_rss_mb": peak, "driver_rss_before_mb": rss0,
           "driver_peak_anon_mb": sampler.peak["anon"], "driver_peak_shmem_mb": sampler.peak["shmem"], "wall_s": wall, "stats": st.to_dict(),
           "driver_read_bytes": io1["read"] - io0["read"], "driver_written_bytes": io1["written"] - io0["written"]}
    manifest = json.loads((Path(args.store) / "manifest.json").read_text())
    out["store_documents"], out["store_pages"] = manifest["documents"], manifest["pages"]
    if args.driver == "ingest":
        out.update(documents=sum(summary.counts.values()), pages=summary.pages, counts=summary.counts)
    else:
        out.update(documents=summary.docs_done, pages=out["store_pages"], samples=summary.samples,
                   tokens=summary.tokens, failed=summary.failed)
    Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


# -------------------------------------------------------------------------------------------------------------
# bench side
# -------------------------------------------------------------------------------------------------------------

def _corpus(work: Path, seeds: int) -> list[Path]:
    from mmprolong.demo.corpus import write_demo_corpus

    dirs = []
    for seed in range(seeds):
        d = work / "pdfs" / f"seed{seed}"
        if not (d / ".done").exists():
            write_demo_corpus(d, n_docs=DOCS_PER_SEED, seed=seed)
            (d / ".done").write_text("")
        dirs.append(d)
    return dirs


def _start_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=0, object_store_memory=OBJECT_STORE_MB * 2**20, include_dashboard=False))
    for _ in range(2):
        cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_MB * 2**20)
    cluster.wait_for_nodes()
    return cluster


def _git() -> str:
    def run(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = " + uncommitted changes" if run("status", "--porcelain", "--untracked-files=no") else ""
    return f"{run('rev-parse', '--short', 'HEAD')} ({run('rev-parse', '--abbrev-ref', 'HEAD')}){dirty}"


def _phase(phase: str, address: str, work: Path, scale: int, inputs: list[Path]) -> dict:
    store, build_out = work / f"store_{scale}x", work / f"build_{scale}x"
    js = work / f"{phase}_{scale}x.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--driver", phase, "--address", address,
           "--store", str(store), "--build-out", str(build_out), "--json", str(js),
           "--inputs", *map(str, inputs)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-8000:])
        raise SystemExit(f"{phase} at {scale}x failed (exit {run.returncode})")
    return json.loads(js.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--label", default=None, help="name of this run's section (default: the git commit)")
    p.add_argument("--scales", default="1,2,4,8", help="corpus multiples (default %(default)s)")
    p.add_argument("--work", default="/tmp/mmprolong-scaleout", help="scratch folder (default %(default)s)")
    p.add_argument("--note", default="", help="a line printed under this run's heading (what code it measures)")
    p.add_argument("--keep", action="store_true", help="keep the stores and builds in --work")
    p.add_argument("--driver", choices=("ingest", "build"), help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--build-out", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    p.add_argument("--inputs", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.driver:
        return drive(args)

    # Ray's nodes and workers must import this checkout's mmprolong
    src = str(ROOT / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    sys.path.insert(0, src)
    scales = sorted({int(s) for s in args.scales.split(",")})
    commit = _git()
    label = args.label or commit.split()[0]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    dirs = _corpus(work, max(scales))
    cluster = _start_cluster()
    rows = []
    try:
        for scale in scales:
            for d in ("store", "build"):
                shutil.rmtree(work / f"{d}_{scale}x", ignore_errors=True)
            for phase in ("ingest", "build"):
                r = _phase(phase, cluster.address, work, scale, dirs[:scale])
                r["scale"] = scale
                rows.append(r)
                st = r["stats"]
                print(f"{phase:6s} {scale}x: {r['documents']} docs, {r['pages']} pages, driver CPU "
                      f"{r['driver_cpu_s']:.2f} s, peak RSS {r['driver_peak_rss_mb']:.0f} MB, sent "
                      f"{st['sent_bytes'] / max(st['items'], 1) / 1024:.1f} KiB/doc, received "
                      f"{st['received_bytes'] / max(st['items'], 1) / 1024:.1f} KiB/doc, wall {r['wall_s']:.1f} s",
                      flush=True)
            if not args.keep:
                for d in ("store", "build"):
                    shutil.rmtree(work / f"{d}_{scale}x", ignore_errors=True)
    finally:
        cluster.shutdown()
    import ray
    meta = {"label": label, "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "ray": ray.__version__, "load_before": load0, "load_after": os.getloadavg()[0],
            "total_s": time.monotonic() - t0, "docs_per_seed": DOCS_PER_SEED, "note": args.note, "rows": rows}
    RAW.mkdir(parents=True, exist_ok=True)
    raw = RAW / f"{label}.json"
    raw.write_text(json.dumps(meta, indent=1))
    md = RESULTS / "scaleout.md"
    md.write_text(render())
    print(f"wrote {raw.relative_to(ROOT)} and {md.relative_to(ROOT)} ({meta['total_s']:.0f} s)")
    return 0


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# -------------------------------------------------------------------------------------------------------------
# report
# -------------------------------------------------------------------------------------------------------------

def _kib(n: float) -> str:
    return f"{n / 1024:,.1f}"


def _mb(r: dict, key: str) -> str:
    return f"{r[key]:.0f}" if key in r else "-"


def _table(rows: list[dict], phase: str) -> list[str]:
    out = ["| scale | documents | pages | driver CPU s | driver peak RSS MB | of it heap (anon) MB, peak | "
           "of it Ray shared memory MB, peak | driver RSS before MB | "
           "KiB sent per doc | KiB received per doc | MiB received in all | driver I/O read KiB per doc | "
           "driver I/O written KiB per doc | wall s |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in rows if r["phase"] == phase):
        st, n = r["stats"], max(r["stats"]["items"], 1)
        out.append(f"| {r['scale']}x | {r['documents']} | {r['pages']:,} | {r['driver_cpu_s']:.2f} | "
                   f"{r['driver_peak_rss_mb']:.0f} | {_mb(r, 'driver_peak_anon_mb')} | {_mb(r, 'driver_peak_shmem_mb')} | "
                   f"{r['driver_rss_before_mb']:.0f} | {_kib(st['sent_bytes'] / n)} | "
                   f"{_kib(st['received_bytes'] / n)} | {st['received_bytes'] / 2**20:,.1f} | "
                   f"{_kib(r.get('driver_read_bytes', 0) / n)} | {_kib(r.get('driver_written_bytes', 0) / n)} | "
                   f"{r['wall_s']:.1f} |")
    return out


def _growth(rows: list[dict], phase: str) -> str:
    rs = [r for r in rows if r["phase"] == phase]
    if len(rs) < 2:
        return ""
    a, b = rs[0], rs[-1]
    return (f"{a['scale']}x -> {b['scale']}x ({b['documents'] / max(a['documents'], 1):.1f} x the documents): driver "
            f"peak RSS {a['driver_peak_rss_mb']:.0f} -> {b['driver_peak_rss_mb']:.0f} MB "
            f"({b['driver_peak_rss_mb'] / a['driver_peak_rss_mb']:.2f} x), driver CPU {a['driver_cpu_s']:.2f} -> "
            f"{b['driver_cpu_s']:.2f} s ({b['driver_cpu_s'] / max(a['driver_cpu_s'], 1e-9):.2f} x), driver CPU per "
            f"document {1000 * b['driver_cpu_s'] / max(b['documents'], 1):.0f} ms at {b['scale']}x.")


def render() -> str:
    runs = [json.loads(p.read_text()) for p in sorted(RAW.glob("*.json"))]
    runs.sort(key=lambda m: m["date"])
    lines = ["# Scale-out: the driver's cost on a local Ray cluster (ingest and build, 1x-8x the demo corpus)", "",
             "`PYTHONPATH=$PWD/src python bench/scaleout.py --label NAME` (bench/scaleout.py; raw figures in "
             "bench/results/scaleout/NAME.json, this file regenerated from all of them).", "",
             "- Cluster: ray.cluster_utils.Cluster on this machine: head node with 0 CPUs (the driver's node runs no "
             "task), two worker nodes with 1 CPU each, 256 MB object store per node; all on this machine's address.",
             f"- Corpus at scale k: the demo corpus (`mmprolong demo`, {DOCS_PER_SEED} documents of 24-44 pages) "
             "generated with seeds 0..k-1: distinct bytes, no duplicates. Ingest at 144 DPI into a fresh store; "
             "build = recipe `demo` (rules generator, 3 instances per document) with the budget lifted, no report.",
             "- Each phase at each scale runs in a fresh driver process. Driver CPU s = time.process_time() of the "
             "driver around the call (its threads, Ray's client threads included; not Ray's processes, not the "
             "workers), minus the stats' own pickling time and the memory sampler's thread time. Peak RSS = ru_maxrss of that process (imports and "
             "ray.init included); RSS before = after imports, before the call; heap (RssAnon) and Ray shared memory "
             "(RssShmem: object-store pages the driver touched, bounded by the node's object store) are the highest "
             "values sampled every 20 ms during the call.",
             "- Bytes per document: `mmprolong.run.stats.recording()` around the call: every item the driver mapped "
             "and every result it got back, pickled with protocol 5 (what Ray ships), plus the mapped function "
             "(Ray: put once). Bytes a worker reads or writes itself on shared storage are not the driver's.",
             "- Driver I/O = the driver's read()/write() syscall bytes during the call (/proc/self/io rchar/wchar: "
             "files, pipes and sockets, page-cache hits included; Ray's shared-memory object store is not a "
             "syscall): the page store read by a build's driver, the pages written by an ingest's driver.",
             ""]
    for m in runs:
        lines += [f"## {m['label']}", "",
                  f"commit {m['commit']}; {m['date']}; {m['cpu']}, {m['cores']} cores (shared machine, load average "
                  f"{m['load_before']:.1f} before, {m['load_after']:.1f} after); Python {m['python']}, Ray "
                  f"{m['ray']}; whole run {m['total_s']:.0f} s." + (f" {m['note']}" if m.get("note") else ""), ""]
        for phase in ("ingest", "build"):
            lines += [f"### {phase}", "", *_table(m["rows"], phase), "", _growth(m["rows"], phase), ""]
        notes = RAW / f"{m['label']}.notes.md"   # hand-written reading of this run, kept beside its figures
        if notes.exists():
            lines += [notes.read_text().strip(), ""]
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        lines += [f"## {a['label']} vs {b['label']} at the largest common scale", "",
                  "| phase | scale | what | " + a["label"] + " | " + b["label"] + " |", "|---|---:|---|---:|---:|"]
        for phase in ("ingest", "build"):
            common = sorted({r["scale"] for r in a["rows"]} & {r["scale"] for r in b["rows"]})
            if not common:
                continue
            s = common[-1]
            ra = next(r for r in a["rows"] if r["phase"] == phase and r["scale"] == s)
            rb = next(r for r in b["rows"] if r["phase"] == phase and r["scale"] == s)
            for what, f in (("driver CPU s", lambda r: f"{r['driver_cpu_s']:.2f}"),
                            ("driver peak RSS MB", lambda r: f"{r['driver_peak_rss_mb']:.0f}"),
                            ("driver peak heap (anon) MB", lambda r: _mb(r, "driver_peak_anon_mb")),
                            ("driver peak Ray shared memory MB", lambda r: _mb(r, "driver_peak_shmem_mb")),
                            ("KiB sent per doc", lambda r: _kib(r["stats"]["sent_bytes"] / max(r["stats"]["items"], 1))),
                            ("KiB received per doc",
                             lambda r: _kib(r["stats"]["received_bytes"] / max(r["stats"]["items"], 1))),
                            ("driver I/O read KiB per doc",
                             lambda r: _kib(r.get("driver_read_bytes", 0) / max(r["stats"]["items"], 1))),
                            ("driver I/O written KiB per doc",
                             lambda r: _kib(r.get("driver_written_bytes", 0) / max(r["stats"]["items"], 1))),
                            ("wall s", lambda r: f"{r['wall_s']:.1f}")):
                lines.append(f"| {phase} | {s}x | {what} | {f(ra)} | {f(rb)} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:   # regenerate scaleout.md from the JSONs and notes only
        (RESULTS / "scaleout.md").write_text(render())
        print(f"wrote {(RESULTS / 'scaleout.md').relative_to(ROOT)}")
        sys.exit(0)
    sys.exit(main())
