"""Build with the openai generator against a local teacher that sleeps per request (a stand-in for a vLLM/SGLang
server): teacher requests in flight and wall time with the old-style local process pool (2 workers), the threads
executor at concurrency 1 and at concurrency N, side by side on the same page store and recipe. Also checks that
all runs wrote the same shard rows.

Updates the "openai teacher concurrency" section of bench/results/build.md (appends it when missing) and prints it.
Usage: python bench/build_teacher.py [--docs 32] [--sleep 0.5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

HEADING = "## openai teacher concurrency"
GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--sleep", type=float, default=0.5)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--out", default=str(HERE / "results" / "build.md"))
    args = ap.parse_args()

    from mmprolong.dataset.build import build
    from mmprolong.dataset.parts import read_table
    from mmprolong.recipe import parse_recipe
    from tests.dataset.docs import make_document, write_store
    from tests.synth.teacher_server import TeacherServer

    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def reply(body):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(args.sleep)
        with lock:
            state["now"] -= 1
        return GOOD

    os.environ["BENCH_TEACHER_KEY"] = "bench-key"
    teacher = TeacherServer()
    teacher.default = ("fn", reply)
    rows_of, lines = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = [make_document(f"doc{i:03d}", 6, size=(308, 396)) for i in range(args.docs)]
        for d in docs:
            d.pages[1]["text"] = "The Northwind plant produced 4,210 tonnes of steel in 2019."
        store = write_store(tmp / "store", docs)
        runs = [("local process pool, 2 workers (before)", "local", 2, args.concurrency),
                ("threads, concurrency 1", None, None, 1),
                (f"threads, concurrency {args.concurrency}", None, None, args.concurrency)]
        for k, (label, executor, workers, conc) in enumerate(runs):
            recipe = parse_recipe({
                "max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
                "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
                "budget_tokens": 10**8,
                "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.base_url,
                              "api_key_env": "BENCH_TEACHER_KEY", "timeout_s": 60, "max_retries": 0,
                              "concurrency": conc, "cache_dir": str(tmp / f"cache{k}")}})
            state["peak"] = 0
            t0 = time.monotonic()
            build(recipe, store, tmp / f"out{k}", executor=executor, workers=workers, progress=False, report=False)
            seconds = time.monotonic() - t0
            rows_of[k] = read_table(tmp / f"out{k}", "shards").to_pylist()
            lines.append((label, state["peak"], seconds, len(rows_of[k])))
    teacher.close()
    same = all(rows_of[k] == rows_of[0] for k in rows_of)
    base = lines[1][2]
    text = [HEADING, "",
            f"- date: {datetime.date.today()}; {os.cpu_count()} cores; {args.docs} documents x 1 extract-single "
            f"instance; teacher: local HTTP server (tests/synth/teacher_server.py) sleeping {args.sleep:g} s per "
            "request; in-process `build()`, no report; `python bench/build_teacher.py`", "",
            "| executor | peak requests in flight | seconds | instances | speed-up vs concurrency 1 |",
            "|---|---|---|---|---|"]
    text += [f"| {label} | {peak} | {s:.2f} | {n} | {base / s:.2f}x |" for label, peak, s, n in lines]
    text += ["", f"Concurrency {args.concurrency}: **{lines[2][1]} requests in flight, {lines[2][2]:.2f} s vs "
             f"{base:.2f} s at concurrency 1 ({base / lines[2][2]:.1f}x)**. Shard rows identical across the runs: "
             f"**{'yes' if same else 'NO'}**.", ""]
    section = "\n".join(text)
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    if HEADING in old:
        head, _, rest = old.partition(HEADING)
        nxt = rest.find("\n## ")
        old = head.rstrip("\n") + "\n" + (rest[nxt:] if nxt >= 0 else "")
    out.write_text(old.rstrip("\n") + "\n\n" + section)
    print(section)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
