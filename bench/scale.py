"""Corpus-wide steps at 10K-1M documents: time and peak memory of the driver and of each worker.

    python bench/scale.py [--sizes 10000 100000] [--layouts local worker] [--pages 24] [--work DIR]

Synthetic page stores are written through the project's own writer (corpus/writer.py) in both layouts: `local`
(the driver batches pages into parts, as a local `ingest` does) and `worker` (one pages file per document, as
`ingest --worker-writes` on Ray writes them). Pages are metadata-sized: a 16-byte stand-in for the JPEG, realistic
pixel sizes (letter pages at 144 DPI, some landscape pages) and a 20-word text layer, so the figures are those of
the store's structure (rows, row groups, files), not of image bytes. Page texts are drawn from 5,000 random
20-word texts. Building skips fsync (the writer's durable commits cost 12 ms each on this disk); the steps do not.

Each step runs in its own process; this script samples that process and all its descendants (pool or Ray workers,
Ray's own daemons apart) every 0.1 s from /proc, and the step reports its own peak RSS (VmHWM) and its RSS before
the step's work (after imports), so "driver delta" is what the step itself added. Steps:
- plan: `make_plan` (pool-native recipe, one slot per document) from the docs rows' page-size summaries;
  baseline `plan_pages_scan`: reading the pages columns the planner read before the summaries (doc_id, page,
  image_width, image_height of every page, as Arrow columns: the scan alone, before any Python per page);
- tokens_summary: `token_report(text_layer=False)` in one process: docs rows only (`tokens --no-text-layer`);
  tokens_local: `token_report` in one process, text layer counted (the pages' text column is read and every
  page's text tokenized); tokens_ray: the same on a local Ray cluster of 2 worker nodes (1 CPU each, the head
  runs no tasks). The two steps that tokenize every page run up to --heavy-max documents (10K by default);
- build_items: the build driver's bookkeeping for every planned document (its docs row and pages' location, as
  the items sent to workers are made; no document processed); baseline `build_items_before`: the code before (a
  dict of every planned doc_id, the store-wide page index);
- document: `PageStore.document()` (index built on the first call, then 200 random documents);
  baseline `document_scan`: the filtered scan of the docs dataset that document() did before (3 calls);
- iter_slow: `iter_documents(with_images=True)` with a consumer sleeping 5 ms per document for 300 documents,
  then the rest at full speed;
- dedup_local1 / dedup_local2 / dedup_ray: `bench_dedup` from bench/dedup.py (its own driver process): a local
  pool of 1 and 2 workers, and the local Ray cluster above (2 one-CPU nodes); up to --dedup-max documents;
- compact (worker layout, last): `mmprolong compact` into parts holding as many pages as 256 MB of real pages
  (COMPACT_MB below), then `document()` again.
Results: bench/results/scale.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = [f"w{i:04d}" for i in range(4000)]
TEXTS = [" ".join(random.Random(k).choices(WORDS, k=20)) for k in range(5000)]   # page texts drawn from these
# compact parts of 256 MB hold ~2,600 pages of ~100 KB JPEGs; with these 16-byte stand-ins (~170 bytes a page with
# its text) the same number of pages, i.e. the same row groups per part, is ~0.45 MB
COMPACT_MB = 0.45
SIZES = [(1224, 1584)] * 9 + [(1584, 1224)]      # letter at 144 DPI; one page in ten landscape


def _rss_now(pid: int | str = "self") -> int:
    """Resident bytes of a process, from /proc (Linux)."""
    from mmprolong.procstat import status_bytes

    return status_bytes("VmRSS", pid)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")[:160]


def _peak() -> int:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak across fork and exec)."""
    from mmprolong.procstat import status_bytes

    return status_bytes("VmHWM")


# -- store building ----------------------------------------------------------------------------------------------


def _doc_pages(doc_id: str, n: int, rng: random.Random) -> list[dict]:
    pages = []
    for p in range(n):
        w, h = SIZES[rng.randrange(10)] if p else SIZES[0]
        pages.append({"doc_id": doc_id, "page": p, "width": w / 2, "height": h / 2, "image": b"\xff\xd8" + b"j" * 14,
                      "image_width": w, "image_height": h, "text": TEXTS[rng.randrange(len(TEXTS))],
                      "text_source": "layer"})
    return pages


def build(store: str, n_docs: int, pages: int, layout: str) -> dict:
    from mmprolong.corpus.ingest import doc_row
    from mmprolong.corpus.writer import PagesFile, StoreWriter, doc_pages_name

    from mmprolong import durable

    durable.fsync_path = lambda path: None        # building only: commits as on a tmpfs (12 ms a fsync here)
    rng = random.Random(0)
    w = StoreWriter(store)                        # ingest's defaults: flush_pages 256, flush_docs 1000
    for i in range(n_docs):
        d = f"{rng.getrandbits(256):064x}"
        n = max(1, pages + rng.randint(-pages // 2, pages // 2))
        row = doc_row(f"/corpus/d{i:07d}.pdf", "ok", doc_id=d, n_pages=n, title=f"Document {i}", dpi=144)
        ps = _doc_pages(d, n, rng)
        if layout == "worker":
            f = PagesFile(w.pages_url(doc_pages_name(d)))
            f.write(ps)
            w.add({**row, "pages_file": doc_pages_name(d), "page_row_groups": f.close(), "page_sizes": f.page_sizes})
        else:
            w.add(row, ps)
    w.close()
    w.write_manifest({}, {}, complete=True)
    return {"files": {k: len(os.listdir(Path(store) / k)) for k in ("docs", "pages")}}


# -- steps (each in its own process) ------------------------------------------------------------------------------


def _recipe():
    from mmprolong.recipe import parse_recipe

    return parse_recipe({"lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 400},
                         "segment": {"min_pages": 2, "max_pages": 8}, "budget_tokens": 10**8, "per_document": 1})


def _cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    return c


def step(name: str, store: str) -> dict:
    from mmprolong.corpus.store import PageStore
    from mmprolong.tokens import load

    out: dict = {}
    if name.startswith("tokens"):
        counter = load("qwen2.5-vl")
        counter.count_text("warm up")            # the tokenizer loads on first use: not the step's cost
    if name == "plan":
        import mmprolong.corpus.neardup  # noqa: F401  (make_plan imports it: datasketch, scipy; not per document)
        from mmprolong.dataset.planner import make_plan
        r = _recipe()
        counter = r.counter()
        counter.count_text("warm up")
        base = _rss_now()
        t0 = time.perf_counter()
        plan = make_plan(r, PageStore(store), counter)
        out["seconds"] = time.perf_counter() - t0
        out["docs_planned"] = len(plan.docs)
        t0 = time.perf_counter()
        out["digest"] = plan.digest()
        out["digest_seconds"] = time.perf_counter() - t0
    elif name in ("build_items", "build_items_before"):
        # the build driver's per-document bookkeeping over the whole plan (no document processed): the planned
        # documents' docs rows and pages' locations, as the driver makes the items it sends
        from mmprolong.dataset import build as B
        from mmprolong.dataset.planner import make_plan
        r = _recipe()
        counter = r.counter()
        counter.count_text("warm up")
        ps = PageStore(store)
        plan = make_plan(r, ps, counter)
        base = _rss_now()
        t0 = time.perf_counter()
        n = 0
        if name == "build_items":
            rows = B._DocRows(ps, plan.docs.doc_ids)
            for item in B._items(ps, plan, range(len(plan.docs)), rows):
                n += 1
        else:   # the code before: a set and a dict of every planned doc_id, the store-wide page index
            ids = {d.doc_id for d in plan.docs}
            t = ps.docs_table(columns=list(B.DOC_ROW_FIELDS))
            row_of = {d: k for k, d in enumerate(t.column("doc_id").to_pylist()) if d in ids}
            ps.page_index()
            for i in range(len(plan.docs)):
                d = plan.docs[i]
                n += bool(ps.locate([d.doc_id])) and d.doc_id in row_of
        out["seconds"] = time.perf_counter() - t0
        out["items"] = n
    elif name == "plan_pages_scan":
        base = _rss_now()
        t0 = time.perf_counter()
        ps = PageStore(store)
        t = ps.pages_dataset().to_table(columns=["doc_id", "page", "image_width", "image_height"])
        out["seconds"] = time.perf_counter() - t0
        out["pages"] = t.num_rows
    elif name == "tokens_summary":
        import tempfile
        from mmprolong.tokens.report import token_report
        base = _rss_now()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            r = token_report(store, counter, progress=False, out_dir=tmp, text_layer=False)
        out["seconds"] = time.perf_counter() - t0
        out["docs"] = r.summary()["docs"]
    elif name in ("tokens_local", "tokens_ray"):
        import tempfile
        from mmprolong.tokens.report import token_report
        cluster = _cluster() if name == "tokens_ray" else None
        base = _rss_now()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            r = token_report(store, counter, progress=False, out_dir=tmp,
                             **({"executor": "ray", "workers": 2, "ray_address": cluster.address} if cluster else {}))
        out["seconds"] = time.perf_counter() - t0
        out["docs"] = r.summary()["docs"]
        if cluster is not None:
            import ray
            ray.shutdown()
            cluster.shutdown()
    elif name == "document":
        ps = PageStore(store)
        base = _rss_now()
        ids = [r for b in ps.iter_docs_rows(["doc_id"]) for r in b.column(0).to_pylist()]
        sample = random.Random(1).sample(ids, min(200, len(ids)))
        del ids
        t0 = time.perf_counter()
        ps.document(sample[0])
        out["first_call_seconds"] = time.perf_counter() - t0
        times = []
        for d in sample[1:]:
            t0 = time.perf_counter()
            ps.document(d)
            times.append(time.perf_counter() - t0)
        times.sort()
        out["seconds"] = out["first_call_seconds"] + sum(times)
        out["per_call_ms_median"] = 1000 * times[len(times) // 2]
        out["per_call_ms_p90"] = 1000 * times[int(len(times) * 0.9)]
    elif name == "document_scan":
        import pyarrow.dataset as ds
        from mmprolong import schema, storage
        ps = PageStore(store)
        ids = ps.doc_ids()[:3]
        base = _rss_now()
        t0 = time.perf_counter()
        for d in ids:
            storage.parquet_dataset(ps.docs_files(), schema.DOCS, base=ps.url).to_table(
                filter=(ds.field("doc_id") == d) & (ds.field("status") == "ok"))
            ps.read_pages([d])
        out["seconds"] = time.perf_counter() - t0
        out["per_call_ms_median"] = 1000 * out["seconds"] / len(ids)
    elif name == "iter_slow":
        ps = PageStore(store)
        base = _rss_now()
        t0 = time.perf_counter()
        n = 0
        for n, doc in enumerate(ps.iter_documents(with_images=True), start=1):
            if n <= 300:
                time.sleep(0.005)
        out["seconds"] = time.perf_counter() - t0
        out["docs"] = n
    elif name in ("dedup_local1", "dedup_local2", "dedup_ray"):
        # the dedup driver is a fresh process started by bench_dedup: its own figures replace this wrapper's
        spec = importlib.util.spec_from_file_location("bench_dedup_module", ROOT / "bench" / "dedup.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cluster = _cluster() if name == "dedup_ray" else None
        t0 = time.perf_counter()
        res = mod.bench_dedup(store, "ray" if cluster else "local", 2 if name != "dedup_local1" else 1,
                              ray_address=cluster.address if cluster else None)
        out["seconds"] = time.perf_counter() - t0
        out["dedup"] = res
        if cluster is not None:
            import ray
            ray.shutdown()
            cluster.shutdown()
        out.update(driver_base_rss=res["driver_base_rss"], driver_peak_rss=res["driver_peak_rss"],
                   driver_cpu_seconds=res["cpu_s"], dedup_worker_peak_rss=res["workers_peak_rss"])
        return out
    elif name == "compact":
        from mmprolong.corpus.compact import compact
        base = _rss_now()
        t0 = time.perf_counter()
        s = compact(store, target_bytes=int(COMPACT_MB * 2**20))
        out["seconds"] = time.perf_counter() - t0
        out["parts"] = len(s.parts_written)
        out["files_removed"] = s.files_removed
        out["files_after"] = {k: len(os.listdir(Path(store) / k)) for k in ("docs", "pages")}
    else:
        raise SystemExit(f"unknown step {name}")
    out["driver_base_rss"] = base
    out["driver_peak_rss"] = _peak()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["driver_cpu_seconds"] = ru.ru_utime + ru.ru_stime      # the whole process, imports included
    return out


def run_step(name: str, store: str, timeout: float) -> dict:
    """Run one step in a child process, sampling the RSS of it and its descendants."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, __file__, "--step", name, "--store", store],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peaks: dict[int, tuple[str, int]] = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in _descendants(proc.pid):
                try:
                    label, rss = _cmdline(pid), _rss_now(pid)
                except OSError:
                    continue
                if rss > peaks.get(pid, ("", 0))[1]:
                    peaks[pid] = (label, rss)
            done.wait(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        done.set()
        return {"step": name, "error": f"timed out after {timeout:.0f} s"}
    done.set()
    t.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"step": name, "error": stderr.strip().splitlines()[-1] if stderr.strip() else f"rc {proc.returncode}"}
    res = json.loads(stdout.strip().splitlines()[-1])
    workers = {pid: v for pid, v in peaks.items() if "ray::" in v[0] or "forkserver" in v[0]
               or "multiprocessing" in v[0] or "default_worker" in v[0]}
    res.update(step=name, wall_seconds=wall,
               worker_peak_rss=sorted((v[1] for v in workers.values()), reverse=True)[:4],
               n_worker_processes=len(workers))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--layouts", nargs="+", default=["local", "worker"], choices=("local", "worker"))
    ap.add_argument("--pages", type=int, default=24, help="mean pages per document (uniform in +-50%%)")
    ap.add_argument("--work", default="/tmp/mmprolong-scale", help="where the stores are written (removed after)")
    ap.add_argument("--steps", nargs="+", default=None)
    ap.add_argument("--heavy-max", type=int, default=10_000,
                    help="run the steps that tokenize every page's text (tokens with the text layer) only "
                         "on stores up to this many documents (default %(default)s)")
    ap.add_argument("--dedup-max", type=int, default=100_000,
                    help="run the dedup steps only on stores up to this many documents (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale.json"))
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        print(json.dumps(step(a.step, a.store)))
        return
    steps = a.steps or ["plan", "plan_pages_scan", "tokens_summary", "tokens_local", "tokens_ray", "document",
                        "document_scan", "iter_slow", "dedup_local1", "dedup_local2", "dedup_ray", "compact"]
    heavy = {"tokens_local", "tokens_ray"}
    dedup = {"dedup_local1", "dedup_local2", "dedup_ray"}
    results = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else []
    for n in a.sizes:
        for layout in a.layouts:
            store = os.path.join(a.work, f"{layout}-{n}")
            shutil.rmtree(store, ignore_errors=True)
            t0 = time.perf_counter()
            info = build(store, n, a.pages, layout)
            print(f"built {layout} {n:,}: {time.perf_counter() - t0:.0f} s, {info['files']}", file=sys.stderr)
            for s in steps:
                if (s == "compact" and layout != "worker") or (s in heavy and n > a.heavy_max) \
                        or (s in dedup and n > a.dedup_max):
                    continue
                r = run_step(s, store, a.timeout)
                r.update(docs_in_store=n, layout=layout, build_seconds=time.perf_counter() - t0, files=info["files"])
                print(json.dumps(r), file=sys.stderr)
                results = [x for x in results if (x.get("step"), x.get("docs_in_store"), x.get("layout"))
                           != (s, n, layout)] + [r]
                Path(a.out).parent.mkdir(parents=True, exist_ok=True)
                Path(a.out).write_text(json.dumps(results, indent=1))
            if "compact" in steps and layout == "worker":
                r = run_step("document", store, a.timeout)
                r.update(step="document_after_compact", docs_in_store=n, layout=layout)
                results = [x for x in results if (x.get("step"), x.get("docs_in_store"), x.get("layout"))
                           != ("document_after_compact", n, layout)] + [r]
                Path(a.out).write_text(json.dumps(results, indent=1))
            shutil.rmtree(store, ignore_errors=True)
    print(table(results))


def _fit(results: list[dict], step: str, layout: str, key: str = "seconds") -> tuple[float, float, list[int]] | None:
    """(per-document slope, intercept, sizes) of `key` over the store sizes measured for a step (least squares;
    with one size: the ratio through the origin)."""
    import numpy as np

    pts = sorted((r["docs_in_store"], r[key]) for r in results
                 if r.get("step") == step and r.get("layout") == layout and key in r and "error" not in r)
    if not pts:
        return None
    x, y = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
    if len(pts) == 1:
        return float(y[0] / x[0]), 0.0, [int(x[0])]
    slope, icpt = np.polyfit(x, y, 1)
    return float(slope), float(icpt), [int(v) for v in x]


def _delta_rows(results: list[dict]) -> list[dict]:
    return [{**r, "delta": r["driver_peak_rss"] - r["driver_base_rss"]} for r in results
            if "error" not in r and not r.get("driver_peak_note") and "driver_base_rss" in r]


def _sizes(fit) -> str:
    return ", ".join(f"{v:,}" for v in fit[2])


def cost_lines(results: list[dict], pool_docs: int, pool_pages: float, cores_per_node: int,
               nodes=(1, 8, 32, 128)) -> list[str]:
    """docs/COST.md's section on the corpus-wide steps, from bench/results/scale.json."""
    meta = next((r["meta"] for r in results if "meta" in r), None)
    L = ["### Corpus-wide steps: dedup, planning, token report, random access (1.5M documents)", "",
         f"From `bench/scale.py` (bench/results/scale.json; synthetic stores of metadata-sized pages, "
         f"{_pages_per_doc(results)} pages of {WORDS_PER_PAGE} words a document on average, written by the "
         f"project's writer"
         + (f"; {meta}" if meta else "") + "). Per-document figures are the least-squares slope of the step over "
         f"the store sizes measured, so fixed costs (imports, a Ray cluster's start) drop out; inputs: `pool_pdfs` "
         f"= {pool_docs:,}, `pool_pages` = {pool_pages:,.0f}, `cores_per_node` = {cores_per_node}.", ""]
    rows = _delta_rows(results)
    t, mem = _fit(results, "plan", "local"), _fit(rows, "plan", "local", "delta")
    if t and mem:
        L.append(f"- **planning** (`build`'s driver, one process, any node count): {t[0] * 1e3:.4f} ms and "
                 f"{max(mem[0], 0):,.0f} bytes of driver memory a document (sizes {_sizes(t)}) "
                 f"-> {t[0] * pool_docs:,.0f} s and {max(mem[0], 0) * pool_docs / 2**30:.2f} GiB for the pool "
                 f"(target: <= 3 KB a document, {3000 * pool_docs / 2**30:.1f} GiB).")
    ts, tm = _fit(results, "tokens_summary", "local"), _fit(rows, "tokens_summary", "local", "delta")
    if ts:
        L.append(f"- **`tokens --no-text-layer`** (docs rows only, one process): {ts[0] * 1e6:.2f} us a document "
                 f"(sizes {_sizes(ts)}) -> {ts[0] * pool_docs:,.0f} s for the pool"
                 + (f"; driver memory {max(tm[0], 0):,.0f} bytes a document -> "
                    f"{max(tm[0], 0) * pool_docs / 2**30:.2f} GiB" if tm else "") + ".")
    tl = _fit(results, "tokens_local", "local")
    core_h = tl[0] * pool_docs / 3600 if tl else None
    if tl:
        core_h *= POOL_WORDS_PER_PAGE / WORDS_PER_PAGE     # tokenizing is linear in the text's length
        L.append(f"- **`tokens`** with the text layer (every page's text tokenized): {tl[0] * 1e3:.2f} ms of one "
                 f"core a document of {WORDS_PER_PAGE}-word pages (sizes {_sizes(tl)}; one size: the ratio, fixed "
                 f"costs included) -> scaled to {POOL_WORDS_PER_PAGE}-word pages (tokenizing is linear in the "
                 f"text), {core_h:,.1f} core-hours for the pool; one task per docs part, so on Ray it divides by "
                 f"the cores.")
    d1 = [r for r in results if r.get("step", "").startswith("dedup_local") and "error" not in r
          and r.get("layout") == "local"]
    pts = {}
    for r in d1:
        pts.setdefault(r["docs_in_store"], []).append(r)
    words_doc = float(_pages_per_doc(results)) * WORDS_PER_PAGE
    if pts:
        import numpy as np

        xs = sorted(pts)
        wcpu = [np.mean([r["dedup"]["workers_cpu_s"] for r in pts[x]]) for x in xs]
        dcpu = [np.mean([r["dedup"]["cpu_s"] for r in pts[x]]) for x in xs]
        w_slope = float(np.polyfit(xs, wcpu, 1)[0]) if len(xs) > 1 else wcpu[0] / xs[0]
        d_slope = max(float(np.polyfit(xs, dcpu, 1)[0]), 0.0) if len(xs) > 1 else dcpu[0] / xs[0]
        per_word = w_slope / words_doc
        pool_w = per_word * pool_pages * POOL_WORDS_PER_PAGE
        pool_d = d_slope * pool_docs
        L += ["", f"- **dedup** (`mmprolong dedup`, local pool; sizes {', '.join(f'{x:,}' for x in xs)}): worker "
                  f"CPU {w_slope * 1e3:.3f} ms a document of {words_doc:.0f} words ({per_word * 1e6:.2f} us a word, "
                  f"an upper bound for denser pages: per-page costs are spread over few words here), driver CPU "
                  f"{d_slope * 1e6:.1f} us a document. For the pool at {POOL_WORDS_PER_PAGE} words a page "
                  f"(assumed; the hours scale with it): {pool_w / 3600:,.1f} core-hours of workers, "
                  f"{pool_d / 3600:.2f} h of driver.", "",
              "| nodes x cores | dedup wall, hours (worker CPU / cores + driver) | tokens with text layer, hours "
              "| planning (driver), hours |", "|---|---:|---:|---:|"]
        for n in nodes:
            L.append(f"| {n} x {cores_per_node} | {(pool_w / (n * cores_per_node) + pool_d) / 3600:.3f} | "
                     + (f"{core_h / (n * cores_per_node):.4f}" if core_h is not None else "-") + " | "
                     + (f"{t[0] * pool_docs / 3600:.3f}" if t else "-") + " |")
        walls = []
        for x in xs:
            by = {r["step"]: r for r in results if r.get("docs_in_store") == x and r.get("layout") == "local"
                  and r.get("step", "").startswith("dedup") and "error" not in r}
            parts = [f"{lab} {by[k]['seconds']:.1f} s" for k, lab in (("dedup_local1", "1 worker"),
                     ("dedup_local2", "2 workers"), ("dedup_ray", "Ray 2 nodes")) if k in by]
            if parts:
                walls.append(f"{x:,}: " + ", ".join(parts))
        L.append("")
        L.append("- dedup wall time on this machine's 2 cores: " + "; ".join(walls) + ".")
    doc = [r for r in results if r.get("step") == "document" and "error" not in r]
    if doc:
        per = ", ".join(f"{r['per_call_ms_median']:.1f} ms at {r['docs_in_store']:,} ({r['layout']})"
                        for r in sorted(doc, key=lambda r: (r["layout"], r["docs_in_store"])))
        first = _fit(results, "document", "local", "first_call_seconds")
        L.append(f"- **`PageStore.document()`**: per call (median) {per}; the index is built once per store object "
                 + (f"({first[0] * 1e6:.2f} us a document -> {first[0] * pool_docs:.0f} s for the pool)." if first
                    else "."))
    return L


def _pages_per_doc(results: list[dict]) -> str:
    return "24"


WORDS_PER_PAGE = 20            # the synthetic pages' text layer (TEXTS above)
POOL_WORDS_PER_PAGE = 400      # assumed for the pool's pages (a dense manual page has 300-600 words)


def table(results: list[dict]) -> str:
    mb = 2**20
    lines = ["| step | layout | documents | wall s | driver peak MB | driver delta MB | delta B/doc | worker peak MB "
             "(max) | notes |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(results, key=lambda r: (r.get("step", ""), r.get("layout", ""), r.get("docs_in_store", 0))):
        if "step" not in r:        # the run's description ("meta")
            continue
        if "error" in r:
            lines.append(f"| {r['step']} | {r.get('layout')} | {r.get('docs_in_store', 0):,} | - | - | - | - | - | "
                         f"{r['error']} |")
            continue
        delta = r["driver_peak_rss"] - r["driver_base_rss"]
        notes = [r["driver_peak_note"]] if r.get("driver_peak_note") else []
        if "per_call_ms_median" in r:
            notes.append(f"per call {r['per_call_ms_median']:.2f} ms median")
        if "first_call_seconds" in r:
            notes.append(f"first call (index) {r['first_call_seconds']:.2f} s")
        if "dedup" in r:
            d = r["dedup"]
            notes.append("stages " + " / ".join(f"{k} {v:.1f} s" for k, v in d["stages"].items())
                         + f"; worker CPU {', '.join(f'{c:.1f}' for c in d['workers_cpu'])} s"
                         + f"; {d['found']} near-duplicates")
        if "parts" in r:
            notes.append(f"{r['parts']} parts, {r['files_removed']:,} files removed")
        w = max(r.get("worker_peak_rss") or [0])
        drv = (f"{r['driver_peak_rss'] / mb:.0f} | {delta / mb:.0f} | {delta / r['docs_in_store']:.0f}"
               if not r.get("driver_peak_note") else "- | - | -")
        lines.append(f"| {r['step']} | {r['layout']} | {r['docs_in_store']:,} | {r['seconds']:.2f} | {drv} | "
                     f"{w / mb:.0f} ({r.get('n_worker_processes', 0)} procs) | {'; '.join(notes)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
