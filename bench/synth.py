"""Synthesis benchmarks, side by side in one run:

1. rules generator on the demo corpus: QA pairs per second (one process) and the share that passes verify(), per task;
2. openai generator against a local OpenAI-compatible server that answers after a fixed latency (a stand-in for a
   teacher VLM): throughput at concurrency 1 vs 4 vs 16 on the same items, and a rerun served from the reply cache.

Writes bench/results/synth.md (+ synth.png) and prints the markdown.
Usage: python bench/synth.py [--docs N] [--latency S] [--items N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent


def demo_documents(n_docs: int, tmp: Path):
    """Demo PDFs -> Documents (pdfium text layer; small JPEGs so the openai path has images to send)."""
    import pypdfium2 as pdfium

    from mmprolong.corpus.store import Document
    from mmprolong.demo.corpus import plan_demo_corpus, write_demo_corpus

    paths = write_demo_corpus(tmp, n_docs=n_docs, seed=0)
    docs = []
    for path, plan in zip(paths, plan_demo_corpus(n_docs, 0)):
        pdf = pdfium.PdfDocument(str(path))
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            buf = io.BytesIO()
            page.render(scale=0.25).to_pil().convert("RGB").save(buf, format="JPEG", quality=70)
            pages.append({"page": i, "text": tp.get_text_range().replace("\r\n", "\n"), "image": buf.getvalue()})
            tp.close()
            page.close()
        pdf.close()
        secs = [{"first_page": f, "level": lv, "heading": h} for f, lv, h in plan.sections]
        docs.append(Document(path.stem, str(path), len(pages), plan.title, secs, pages))
    return docs


def bench_rules(docs, rounds: int = 30) -> tuple[list[str], dict]:
    from mmprolong.synth import QA_TASKS, Deduper, GeneratorConfig, choose_segment, make_generator, verify

    gen = make_generator(GeneratorConfig(kind="rules"))
    items, stats = [], {t: Counter() for t in QA_TASKS}
    t0 = time.perf_counter()
    for di, doc in enumerate(docs):
        for r in range(rounds):
            rng = random.Random(f"{di}:{r}")
            seg = choose_segment(doc, rng)
            for t in QA_TASKS:
                items += [(doc, q) for q in gen.generate(doc, seg, t, rng)]
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dedup = Deduper()
    for doc, q in items:
        v = verify(q, doc, dedup)
        s = stats[q.task]
        s["n"] += 1
        s["ok"] += v.ok
        s.update(f for f in v.checks_failed)
    ver_s = time.perf_counter() - t0
    lines = [f"Rules generator, {len(docs)} demo documents x {rounds} segments x 3 tasks, one process:",
             "", f"- generation: {len(items)} pairs in {gen_s:.2f} s = **{len(items) / gen_s:,.0f} pairs/s**; "
             f"verification: {len(items) / ver_s:,.0f} pairs/s", "",
             "| task | pairs | pass verify() | failures |", "|---|---:|---:|---|"]
    for t, s in stats.items():
        fails = ", ".join(f"{k} {v}" for k, v in s.items() if k not in ("n", "ok")) or "-"
        lines.append(f"| {t} | {s['n']} | {100 * s['ok'] / max(1, s['n']):.1f}% | {fails} |")
    return lines, {"pairs_per_s": len(items) / gen_s}


def serve(latency: float):
    reply = json.dumps({"question": "On page 4, what is the 2019 value for Northwind in Table 1?", "answer": 4210,
                        "answer_format": "Integer", "evidence": "Table 1, page 4.", "evidence_pages": [4],
                        "evidence_sources": ["Table"]})
    count = Counter()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            count["requests"] += 1
            time.sleep(latency)
            data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "teacher",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd, count


def bench_openai(docs, latency: float, n_items: int, tmp: Path) -> tuple[list[str], list[tuple[int, float]]]:
    from mmprolong.synth import GeneratorConfig, make_generator

    httpd, count = serve(latency)
    os.environ.setdefault("BENCH_TEACHER_KEY", "local")
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    items = []  # distinct (doc, segment) keys: no item is a cache hit of another
    for i in range(n_items):
        doc = docs[i % len(docs)]
        a = (i // len(docs)) % (doc.n_pages - 8)
        items.append((doc, (a, a + 7), "extract-single", i))
    rows, points = [], []
    base = None
    for conc in (1, 4, 16):
        cache = tmp / f"cache{conc}"
        gen = make_generator(GeneratorConfig(kind="openai", model="teacher", base_url=url, api_key_env="BENCH_TEACHER_KEY",
                                             concurrency=conc, cache_dir=str(cache), max_retries=0))
        before = count["requests"]
        t0 = time.perf_counter()
        res = list(gen.generate_many(items))
        dt = time.perf_counter() - t0
        ok = sum(1 for r in res if r.records)
        base = base or dt
        t1 = time.perf_counter()
        again = list(gen.generate_many(items))
        dt_cache = time.perf_counter() - t1
        gen.close()
        paid = count["requests"] - before
        rows.append(f"| {conc} | {len(items)} | {ok} | {dt:.2f} | {len(items) / dt:.1f} | {base / dt:.1f}x | "
                    f"{paid} | {dt_cache:.3f} s, {sum(r.cached for r in again)} hits |")
        points.append((conc, len(items) / dt))
    httpd.shutdown()
    httpd.server_close()
    lines = [f"OpenAI generator against a local /v1/chat/completions server answering after {latency * 1000:.0f} ms, "
             f"{len(items)} items of 8 page images each (JPEG data URLs), same items at each concurrency:", "",
             "| concurrency | items | accepted | wall (s) | items/s | speed-up | requests | rerun from cache |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"] + rows
    return lines, points


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "synth.md")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        docs = demo_documents(args.docs, tmp / "pdfs")
        rules, _ = bench_rules(docs)
        oa, points = bench_openai(docs, args.latency, args.items, tmp)
    cpus = os.cpu_count()
    md = "\n".join([
        "# Synthesis: rules generator quality/speed, openai generator concurrency and cache", "",
        f"Device: {platform.machine()}, {cpus} CPUs shared with other jobs; {datetime.date.today()}; "
        f"Python {platform.python_version()}.", "", *rules, "", *oa, "",
        "Pass verify(): every automatic check passed (evidence pages in segment and scope, answer format, answer "
        "found on the evidence pages, reasoning answer recomputed from its operands, scope anchor, no answer in the "
        "question, not a near-duplicate). Duplicates come from drawing 30 segments from each ~30-page document.",
        "",
        "Speed-up is wall time at concurrency 1 over wall time at that concurrency; the cached rerun makes no "
        "request (the requests column counts only the first pass).", ""])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([c for c, _ in points], [r for _, r in points], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("requests in flight (concurrency)")
    ax.set_ylabel("QA items / s")
    ax.set_title(f"openai generator, {args.latency * 1000:.0f} ms teacher latency")
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
