"""`mmprolong view` on large synthetic builds: time to the first page of items and the server's memory, against
the obvious alternative (load every item's record into Python at start, as a naive JSON server would), side by side.

For each size: a synthetic build (mmprolong.view.synthetic: qa/, rejected/, shards/ parts per schema.py over the
demo store, 1 rejected per 5 kept), then
- the real command `mmprolong view BUILD --port 0 --no-browser` in its own process: wall time from spawn to the
  first answered page of items (interpreter start, imports, index, HTTP) and its CPU seconds, then timed
  requests (a page deep in the list, a filtered page, a failed-check filter, an item, a page image) and its
  resident memory (VmRSS after them, VmHWM peak);
- the alternative in its own process: qa/ + rejected/ + the shards' metadata columns read and turned into Python
  rows (time and peak memory).

    python bench/view.py [--sizes 50000,100000] [--out bench/results/view.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}

NAIVE = """
import sys, time, pyarrow.parquet as pq
t0, c0 = time.perf_counter(), time.process_time()
b = sys.argv[1]
rows = pq.read_table(b + "/qa").to_pylist() + pq.read_table(b + "/rejected").to_pylist()
meta = pq.read_table(b + "/shards", columns=["qa_id", "n_tokens", "bucket", "pages", "depth"]).to_pylist()
t, c = time.perf_counter() - t0, time.process_time() - c0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(t, int(hwm) / 1024, c)
"""


BARE = """
import pyarrow.parquet, pyarrow.compute, mmprolong.cli.main, mmprolong.view.server, mmprolong.corpus.store
print([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
"""


def _status(pid: int, key: str) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (load on a shared machine stretches wall time, not this)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _get(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t0, body


def measure(build: Path, n: int) -> dict:
    from mmprolong.view.build_data import BuildData

    BuildData(build)     # warm: the lazy imports (pyarrow's pandas shim) and the OS file cache
    w, c = time.perf_counter(), time.process_time()
    BuildData(build)     # the index alone
    index = (time.perf_counter() - w, time.process_time() - c)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "mmprolong.cli.main", "view", str(build), "--port", "0",
                          "--no-browser", "--log-level", "warning"], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        line = p.stdout.readline()
        url = line.split()[2]
        opened = float(line.split("opened in ")[1].split()[0])
        _, body = _get(url + "api/0/items?offset=0&limit=50")
        first = time.perf_counter() - t0
        assert json.loads(body)["total"] == n + n // 5
        r = {"first_page_s": first, "first_page_cpu_s": _cpu(p.pid), "index_s": opened,
             "index_wall_s": index[0], "index_cpu_s": index[1]}
        r["deep_page_ms"] = 1e3 * _get(url + f"api/0/items?offset={n // 2}&limit=50")[0]
        r["filtered_ms"] = 1e3 * _get(url + "api/0/items?task=reasoning&bucket=8K-16K&offset=1000&limit=50")[0]
        r["check_ms"] = 1e3 * _get(url + "api/0/items?check=no_scope_anchor&limit=50")[0]
        item = json.loads(_get(url + f"api/0/items?offset={n // 3}&limit=1")[1])["items"][0]
        r["item_ms"] = 1e3 * _get(url + f"api/0/item?id={item['id']}")[0]
        d = json.loads(_get(url + f"api/0/item?id={item['id']}")[1])
        page = d["evidence_pages"][0]
        r["image_ms"] = 1e3 * _get(url + f"api/0/image?doc={d['doc_id']}&page={page}")[0]
        r["info_ms"] = 1e3 * _get(url + "api/0/info")[0]
        r["rss_mb"], r["hwm_mb"] = _status(p.pid, "VmRSS"), _status(p.pid, "VmHWM")
    finally:
        p.terminate()
        p.wait(10)
    out = subprocess.run([sys.executable, "-c", NAIVE, str(build)], capture_output=True, text=True, env=ENV,
                         check=True).stdout.split()
    r["naive_s"], r["naive_hwm_mb"], r["naive_cpu_s"] = float(out[0]), float(out[1]), float(out[2])
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50000,100000")
    ap.add_argument("--out", default=str(HERE / "results" / "view.md"))
    a = ap.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.demo.corpus import write_demo_corpus
    from mmprolong.view.synthetic import write_synthetic_build

    bare = int(subprocess.run([sys.executable, "-c", BARE], capture_output=True, text=True, env=ENV,
                              check=True).stdout) / 1024
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_demo_corpus(tmp / "pdfs", n_docs=6, seed=0)
        ingest([str(tmp / "pdfs")], tmp / "store", IngestConfig(dpi=144, workers=1, progress=False))
        for n in [int(s) for s in a.sizes.split(",")]:
            b = write_synthetic_build(tmp / f"build{n}", tmp / "store", n, n // 5)
            size = sum(f.stat().st_size for f in b.rglob("*.parquet")) / 2**20
            r = measure(b, n)
            rows.append((n, size, r))
            print(n, json.dumps(r), flush=True)
    load = os.getloadavg()
    lines = [
        "# View: time to first page and server memory (bench/view.py)", "",
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} at the end (the machine is shared with other work: wall times are upper "
        "bounds). Synthetic builds (mmprolong.view.synthetic) over the demo store at 144 DPI, 1 rejected "
        "candidate per 5 kept instances, parts of 2,000 rows.", "",
        f"A bare process with the server's imports (Python, pyarrow, the CLI) is {bare:.0f} MiB resident; the "
        "server column includes it and the page-image cache (at most 64 MiB of JPEGs).", "",
        "| kept + rejected | parquet on disk | first page: wall / server CPU (s) | index: wall / CPU (s) | page at "
        "half | filtered page | failed-check filter | item | page image | server RSS / peak (MiB) | "
        "all rows in Python: wall / CPU (s), peak (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, size, r in rows:
        lines.append(f"| {n:,} + {n // 5:,} | {size:.0f} MiB | {r['first_page_s']:.2f} / {r['first_page_cpu_s']:.2f} | "
                     f"{r['index_wall_s']:.2f} / {r['index_cpu_s']:.2f} | "
                     f"{r['deep_page_ms']:.0f} ms | {r['filtered_ms']:.0f} ms | {r['check_ms']:.0f} ms | "
                     f"{r['item_ms']:.0f} ms | {r['image_ms']:.0f} ms | {r['rss_mb']:.0f} / {r['hwm_mb']:.0f} | "
                     f"{r['naive_s']:.2f} / {r['naive_cpu_s']:.2f}, {r['naive_hwm_mb']:.0f} |")
    lines += ["", "First page = a new process's whole start (Python, imports, the index of the filter columns, the "
              "HTTP answer); the index column is the index alone (BuildData, warm). The server holds only the "
              "filter columns and each item's location; a page of items reads its rows' row groups. The alternative "
              "column is the process that reads every record into Python rows (what a server holding all items "
              "would keep) before it could answer anything.", ""]
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
