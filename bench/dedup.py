"""Near-duplicate detection: which pairs it joins on real PDFs, and what the distributed stages cost at scale.

    python bench/dedup.py PDF ... [--threshold 0.8]               # real PDFs: pairs, estimated vs true Jaccard
    PYTHONPATH=$PWD/src python bench/dedup.py --scale 10000 [--scale 100000] [--pages 12 --words 50]

Real PDFs: prints a markdown table (and writes bench/results/dedup.md): each near-duplicate with the kept document
and the estimated Jaccard similarity, plus the true Jaccard of the shingle sets for checking the estimate.

--scale N: a synthetic store of N documents written through the project's writer (corpus/writer.py; metadata-sized
pages: an empty image, `--words` random words of text a page, `--pages` pages), 5% of them planted near-duplicates
(a copy of an earlier document with one page replaced, or an exact copy). On it, side by side in one run:
the one-process reference (`neardup.reference_dedup`: every signature held, datasketch's LSH), then the distributed
stages (`mmprolong.corpus.dedup`) on a local pool of 1 and 2 workers and on a local Ray cluster of 2 worker nodes
(ray.cluster_utils.Cluster: a head with 0 CPUs and two nodes of 1 CPU, all on this machine). Each run is its own
driver process, so its peak RSS (ru_maxrss) is that run's alone; each worker reports its own process's peak RSS
from inside its tasks. All runs must give the reference's records (checked). Raw figures:
bench/results/dedup_scale.json; table: bench/results/dedup_scale.md.

`bench_dedup(store, executor, workers, ray_address=None) -> dict(time, driver_peak_rss, worker_peak_rss, ...)` is
the function another bench (e.g. a whole-pipeline scale bench) calls for one measured run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


# ------------------------------------------------------------------------------------------------------------------
# synthetic store
# ------------------------------------------------------------------------------------------------------------------

def write_synthetic_store(root: Path, n_docs: int, pages: int = 12, words: int = 50, dup_share: float = 0.05,
                          vocabulary: int = 5000, seed: int = 0, flush_docs: int = 250) -> dict:
    """A store of `n_docs` documents through StoreWriter, `dup_share` of them planted near-duplicates."""
    import numpy as np

    from mmprolong.corpus.writer import StoreWriter

    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{k:05d}" for k in range(vocabulary)])

    def page() -> str:
        return " ".join(vocab[rng.integers(0, vocabulary, words)])

    w = StoreWriter(root, flush_pages=50_000, flush_docs=flush_docs, flush_seconds=1e9)
    kept: list[list[str]] = []
    planted = 0
    for i in range(n_docs):
        if kept and rng.random() < dup_share:
            src = kept[int(rng.integers(0, len(kept)))]
            texts = list(src)
            if rng.random() < 0.7:
                texts[int(rng.integers(0, len(texts)))] = page()
            planted += 1
        else:
            texts = [page() for _ in range(pages)]
            if len(kept) < 10_000:
                kept.append(texts)
        doc_id = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
        w.add({"doc_id": doc_id, "source": f"synthetic/{i}.pdf", "n_pages": len(texts), "title": "", "sections": [],
               "sections_from": "none", "status": "ok", "error": "", "file_bytes": 1, "dpi": 72, "seconds": 0.0},
              [{"doc_id": doc_id, "page": p, "width": 612.0, "height": 792.0, "image": b"", "image_width": 1,
                "image_height": 1, "text": t, "text_source": "layer"} for p, t in enumerate(texts)])
    w.close()
    return {"docs": n_docs, "planted": planted, "pages": pages, "words": words}


# ------------------------------------------------------------------------------------------------------------------
# one measured run (its own driver process)
# ------------------------------------------------------------------------------------------------------------------

def _one(args) -> None:
    """Driver process: one dedup run; prints its figures as JSON on the last line."""
    from mmprolong.corpus.dedup.signatures import peak_rss

    if args.executor == "reference":
        from mmprolong.corpus.neardup import reference_dedup  # noqa: F401  (imports before the base RSS)
    else:
        from mmprolong.corpus.dedup import run_dedup  # noqa: F401
    from mmprolong.procstat import status_bytes

    base_rss = status_bytes("VmRSS")
    t0 = time.perf_counter()
    if args.executor == "reference":
        from mmprolong.corpus.neardup import reference_dedup

        found, stats = reference_dedup(args.store), {"workers": {}, "stages": {}}
    else:
        from mmprolong.corpus.dedup import run_dedup

        found, stats = run_dedup(args.store, 0.8, 128, executor=args.executor, workers=args.workers,
                                 ray_address=args.ray_address, force=True)
    seconds = time.perf_counter() - t0
    records = [(d.doc_id, d.kept_doc_id, d.similarity, d.kind) for d in found]
    workers = sorted((w["peak_rss"] for w in stats["workers"].values()), reverse=True)
    in_process = any(pid == os.getpid() for _, pid in stats["workers"])
    print(json.dumps({"time": seconds, "driver_peak_rss": peak_rss(), "driver_base_rss": base_rss,
                      "worker_peak_rss": max(workers, default=0), "workers_peak_rss": workers,
                      "cpu_s": time.process_time(), "in_process": in_process,
                      "workers_cpu_s": 0.0 if in_process else sum(w["cpu_s"] for w in stats["workers"].values()),
                      "workers_cpu": [round(w["cpu_s"], 2) for w in stats["workers"].values()],
                      "workers_tasks": [w["tasks"] for w in stats["workers"].values()],
                      "stages": {k: round(v["seconds"], 2) for k, v in stats["stages"].items()},
                      "found": len(records),
                      "records_sha256": hashlib.sha256(json.dumps(records).encode()).hexdigest()}))


def bench_dedup(store: str | Path, executor: str, workers: int | None, ray_address: str | None = None) -> dict:
    """One dedup run of `store` in a fresh driver process (`executor`: local | ray | reference): wall time (s) of
    the call, driver and worker peak RSS (bytes), per-stage seconds, records found and their hash."""
    cmd = [sys.executable, __file__, "--one", str(store), "--executor", executor]
    if workers:
        cmd += ["--workers", str(workers)]
    if ray_address:
        cmd += ["--ray-address", ray_address]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _scale(sizes: list[int], pages: int, words: int) -> None:
    from ray.cluster_utils import Cluster

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            store = Path(tmp) / "store"
            t0 = time.perf_counter()
            info = write_synthetic_store(store, n, pages=pages, words=words)
            info["write_s"] = time.perf_counter() - t0
            runs = {"reference (1 process)": bench_dedup(store, "reference", None),
                    "local, 1 worker": bench_dedup(store, "local", 1),
                    "local, 2 workers": bench_dedup(store, "local", 2)}
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                                    "object_store_memory": 256 * 2**20})
            try:
                for _ in range(2):
                    cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
                cluster.wait_for_nodes()
                runs["ray, 2 nodes x 1 CPU"] = bench_dedup(store, "ray", 2, cluster.address)
            finally:
                cluster.shutdown()
            ref = runs["reference (1 process)"]["records_sha256"]
            for name, r in runs.items():
                assert r["records_sha256"] == ref, f"{name}: records differ from the reference"
            rows.append({"store": info, "runs": runs})
            print(json.dumps(rows[-1], indent=1), flush=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
            "load_1min_at_end": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dedup_scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Dedup at scale (bench/dedup.py --scale; {meta['date']}, {meta['machine']}, "
             f"1-min load {meta['load_1min_at_end']:.1f} at the end)", "",
             "| documents | run | wall s | CPU s, driver + workers | stages s (signatures / pairs / clusters) | "
             "driver peak RSS MB | worker peak RSS MB (each) | records |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        n = row["store"]["docs"]
        for name, r in row["runs"].items():
            st = r["stages"]
            stages = " / ".join(f"{st[k]:.1f}" for k in ("signatures", "pairs", "clusters")) if st else "-"
            each = ", ".join(f"{w / 2**20:.0f}" for w in r["workers_peak_rss"]) or "-"
            cpu = f"{r['cpu_s']:.1f}" + (f" + {r['workers_cpu_s']:.1f}" if r["workers_cpu_s"] else "")
            lines.append(f"| {n:,} | {name} | {r['time']:.1f} | {cpu} | {stages} | "
                         f"{r['driver_peak_rss'] / 2**20:.0f} | {each} | {r['found']:,} (same as reference) |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "dedup_scale.md").write_text(text)
    print(text)


# ------------------------------------------------------------------------------------------------------------------
# cost at the paper's pool (a section of docs/COST.md, called by bench/cost_model.py)
# ------------------------------------------------------------------------------------------------------------------

WORDS_PER_PAGE_POOL = 400   # assumed: a dense manual page has 300-600 words; hours scale with it linearly


def cost_lines(pool_docs: int, pool_pages: int, nodes=(1, 8, 32, 128), cores: int = 64,
               hours: bool = True) -> list[str]:
    """Dedup hours for the pool per node count, from bench/results/dedup_scale.json: CPU seconds (not wall: the
    measuring machine was shared), worker CPU per word signed at the largest store, the driver's CPU growth per
    document between the smallest and the largest store. `hours=False`: only the comparison with the reference
    and the memory figures (bench/scale.py's quiet-machine runs give the hours)."""
    path = RESULTS / "dedup_scale.json"
    if not path.exists():
        return []
    m = json.loads(path.read_text())
    big = max(m["rows"], key=lambda r: r["store"]["docs"])
    small = min(m["rows"], key=lambda r: r["store"]["docs"])
    st = big["store"]
    words = st["docs"] * st["pages"] * st["words"]
    one, ref = big["runs"]["local, 1 worker"], big["runs"]["reference (1 process)"]
    pool_words = pool_pages * WORDS_PER_PAGE_POOL
    worker_per_word = one["workers_cpu_s"] / words
    extra_docs = max(st["docs"] - small["store"]["docs"], 1)
    driver_per_doc = max(0.0, one["cpu_s"] - small["runs"]["local, 1 worker"]["cpu_s"]) / extra_docs
    worker_s = pool_words * worker_per_word
    driver_s = pool_docs * driver_per_doc
    ref_mem = (ref["driver_peak_rss"] - small["runs"]["reference (1 process)"]["driver_peak_rss"]) / extra_docs
    L = ["### Near-duplicate detection (`mmprolong dedup`) of the pool", "",
         f"From `bench/dedup.py --scale` ({m['meta']['date']}, {m['meta']['machine']}, shared with other work: "
         f"1-min load {m['meta']['load_1min_at_end']:.0f} at the end, so CPU seconds are used, not wall time): "
         f"synthetic stores of {small['store']['docs']:,} and {st['docs']:,} documents of {st['pages']} pages x "
         f"{st['words']} words. Inputs: worker CPU {worker_per_word * 1e6:.2f} us a word signed "
         f"({one['workers_cpu_s']:.1f} s for {words:,} words, all stages, worker start-up included, one local "
         f"worker); driver CPU {driver_per_doc * 1e3:.3f} ms a document (its growth from {small['store']['docs']:,} "
         f"to {st['docs']:,} documents); the pool: {pool_docs:,} documents, {pool_pages:,} pages, "
         f"{WORDS_PER_PAGE_POOL} words a page (assumed; the hours scale with it).", "",
         (f"Worker CPU: {worker_s / 3600:,.1f} core-hours; the driver's: {driver_s / 3600:.2f} h." if hours else
          "The hours for the pool come from the quiet-machine runs of bench/scale.py, in the next section; this "
          "run checks the stages against the one-process reference."), ""]
    if hours:
        L += ["| nodes x cores | dedup wall, hours (worker CPU / cores + driver CPU) |", "|---|---:|"]
        for n in nodes:
            L.append(f"| {n} x {cores} | {_hours((worker_s / (n * cores) + driver_s) / 3600)} |")
    ref_s = ref["cpu_s"] / words * pool_words
    L += ["", f"- The one-process reference (every signature in one process, datasketch's LSH) at its measured "
              f"{ref['cpu_s'] / words * 1e6:.2f} us a word: {ref_s / 3600:,.1f} h on one core, and its peak memory "
              f"grew {ref_mem / 1024:.1f} KB a document ({ref_mem * pool_docs / 2**30:,.1f} GiB for the pool).",
          f"- The stages' memory does not grow with the store: driver peak {small['runs']['local, 1 worker']['driver_peak_rss'] / 2**20:.0f} -> "
          f"{one['driver_peak_rss'] / 2**20:.0f} MB and each worker at most {one['worker_peak_rss'] / 2**20:.0f} MB "
          f"from {small['store']['docs']:,} to {st['docs']:,} documents (mostly the interpreter and its libraries). "
          "A signing worker holds one docs part and one pages file's text; a pairs task holds 1/P of the band keys "
          f"(9 bands x ~62 bytes a document: {pool_docs * 9 * 62 / 32 / 2**20:,.0f} MiB a task for the pool at "
          "P = 32; `--partitions` shrinks it); the driver holds the verified pairs only.", ""]
    return L


def _hours(x: float) -> str:
    return f"{x:.2f}" if x < 1 else f"{x:,.1f}"


# ------------------------------------------------------------------------------------------------------------------
# real PDFs
# ------------------------------------------------------------------------------------------------------------------

def _shingles(texts):
    from mmprolong.corpus import neardup

    words = [w for t in texts for w in neardup._WORD.findall((t or "").lower())]
    return {" ".join(words[i:i + neardup.SHINGLE]) for i in range(max(0, len(words) - neardup.SHINGLE + 1))}


def _pdfs(pdfs: list[Path], threshold: float) -> None:
    from mmprolong.corpus import neardup

    t0 = time.perf_counter()
    texts = {p.name: neardup.pdf_texts(p) for p in pdfs}
    t_text = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = neardup.find_near_duplicates([(n, len(t), t) for n, t in texts.items()], threshold)
    t_sig = time.perf_counter() - t0
    pages = sum(len(t) for t in texts.values())
    lines = [f"# Near-duplicate documents on real PDFs (threshold {threshold})", "",
             f"{len(texts)} PDFs, {pages:,} pages; text layer {t_text:.1f} s, MinHash + LSH {t_sig:.2f} s.", "",
             "| document | kept document | estimated Jaccard | true Jaccard |", "|---|---|---|---|"]
    for d in found:
        x, y = _shingles(texts[d.doc_id]), _shingles(texts[d.kept_doc_id])
        lines.append(f"| {d.doc_id} | {d.kept_doc_id} | {d.similarity:.2f} | {len(x & y) / len(x | y):.2f} |")
    lines += ["", "Documents not listed were kept: " + ", ".join(sorted(set(texts) - {d.doc_id for d in found}))]
    text = "\n".join(lines) + "\n"
    (RESULTS / "dedup.md").write_text(text)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pdfs", nargs="*", type=Path)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--scale", type=int, action="append", help="synthetic store of this many documents")
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--words", type=int, default=50)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--executor", default="local", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--ray-address", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        a.store = a.one
        _one(a)
    elif a.scale:
        _scale(a.scale, a.pages, a.words)
    elif a.pdfs:
        _pdfs(a.pdfs, a.threshold)
    else:
        ap.error("give PDFs or --scale N")


if __name__ == "__main__":
    main()
