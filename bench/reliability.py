"""Reliability under fault injection: hostile PDFs, concurrent writers, killed processes, trickling and echoing
servers, a full or read-only disk, setup mistakes. Every case runs the real CLI in a subprocess on 127.0.0.1 and
checks two things: *handled* (the documented outcome: a row with the right status, a one-line error with its exit
code, a request cut at its deadline...) and *data lost* (inputs without their one docs row, committed rows gone or
doubled, instances missing after the rerun that should complete them, a key written to disk).

    PYTHONPATH=src python bench/reliability.py            # ~2-4 minutes on 2 cores

Writes bench/results/reliability.md. The servers and PDF makers are the test suite's (tests/synth/teacher_server.py,
tests/corpus/test_hostile_pdfs.py, tests/dataset/docs.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.corpus.test_hostile_pdfs import deep_tree, giant_page, recursive_tree  # noqa: E402
from tests.dataset.docs import make_document, write_store  # noqa: E402
from tests.synth.teacher_server import TeacherServer  # noqa: E402

from mmprolong.corpus.store import PageStore  # noqa: E402
from mmprolong.demo.corpus import write_demo_corpus  # noqa: E402

RESULTS = HERE / "results" / "reliability.md"
CLI = [sys.executable, "-m", "mmprolong.cli.main"]
GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}
KEY = "sk-bench-secret-5521"
rows: list[tuple[str, int, int, int, str]] = []   # case, tried, handled, data lost, note


def run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)


def docs_of(store: Path) -> list[dict]:
    return PageStore(store).docs_table(ok_only=False).to_pylist()


def lost_rows(store: Path, inputs: list[str]) -> int:
    """Inputs without exactly one docs row."""
    srcs = [d["source"] for d in docs_of(store)]
    return sum(srcs.count(s) != 1 for s in inputs) + max(0, len(srcs) - len(inputs))


def record(case: str, tried: int, handled: int, lost: int, note: str) -> None:
    rows.append((case, tried, handled, lost, note))
    print(f"{case}: {handled}/{tried} handled, {lost} lost ({note})", flush=True)


def long_pdf(path: Path, pages: int) -> Path:
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), invariant=1)
    for i in range(pages):
        c.drawString(72, 720, f"page {i} of a long document " * 3)
        c.showPage()
    c.save()
    return path


def case_concurrent_ingest(tmp: Path, pdfs: list[Path], rounds: int = 3) -> None:
    handled = lost = 0
    inputs = [str(p) for p in pdfs] + [str(long_pdf(tmp / "long.pdf", 400))]
    for r in range(rounds):
        out = tmp / f"cc{r}"
        cmd = ["ingest", *inputs, "--out", out, "--workers", "1", "--quiet", "--no-report"]
        first = subprocess.Popen(CLI + [str(a) for a in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (out / ".mmprolong.lock.json").exists() and first.poll() is None:
            time.sleep(0.02)
        second = run(cmd)
        ok1 = first.wait() == 0
        handled += ok1 and second.returncode == 4 and f"pid {first.pid}" in second.stderr
        lost += lost_rows(out, inputs)
    record("two `ingest` processes on one store", rounds, handled, lost,
           "second refused (exit 4, names pid/host/since); first completes")


def case_killed_holder(tmp: Path, pdfs: list[Path]) -> None:
    inputs = [str(p) for p in pdfs] + [str(long_pdf(tmp / "long2.pdf", 400))]
    out = tmp / "killed"
    cmd = ["ingest", *inputs, "--out", out, "--workers", "1", "--quiet", "--no-report"]
    p = subprocess.Popen(CLI + [str(a) for a in cmd], start_new_session=True)
    while not (out / ".mmprolong.lock.json").exists():
        time.sleep(0.02)
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    again = run(cmd)
    record("kill -9 of the lock holder, then rerun", 1, int(again.returncode == 0), lost_rows(out, inputs),
           "lock recovered with no manual step")


def case_names_and_links(tmp: Path, pdfs: list[Path]) -> None:
    drop = tmp / "names"
    drop.mkdir()
    for i, p in enumerate(pdfs[:6]):
        shutil.copy(p, drop / f"d{i}.pdf")
    bad = os.path.join(os.fsencode(drop), b"\xff\xfe.pdf")
    shutil.copy(pdfs[0], os.fsdecode(bad))
    with open(bad, "ab") as f:
        f.write(b"\n%other\n")
    os.symlink("l2.pdf", drop / "l1.pdf")
    os.symlink("l1.pdf", drop / "l2.pdf")
    os.symlink("nowhere.pdf", drop / "dangling.pdf")
    for k in range(8):
        os.symlink(drop / "d1.pdf", drop / f"link{k}.pdf")
    out = tmp / "names_store"
    r = run(["ingest", drop, "--out", out, "--workers", "1", "--dpi", "36", "--quiet", "--no-report"])
    docs = docs_of(out) if r.returncode == 0 else []
    expected = len(pdfs[:6]) + 1 + 3 + 8   # copies, the odd name, 2 loop links + 1 dangling, 8 links
    weird = [d for d in docs if d["source"].endswith("\\xff\\xfe.pdf")]
    handled = int(r.returncode == 0 and len(docs) == expected and weird and weird[0]["status"] == "ok")
    record("non-UTF-8 name, symlink loop, dangling link, 8 links to one file", 1, handled,
           max(0, expected - len(docs)), f"{len(docs)} rows for {expected} inputs")


def case_hostile_pdfs(tmp: Path) -> None:
    d = tmp / "hostile"
    d.mkdir()
    files = {"recursive page tree": (recursive_tree(d / "rec.pdf"), "corrupt", []),
             "5,000-level page tree": (deep_tree(d / "deep.pdf"), "corrupt", []),
             "20000 x 20000 pt page (635-byte class)": (giant_page(d / "giant.pdf"), "ok", [])}
    out = tmp / "hostile_store"
    t = time.monotonic()
    r = run(["ingest", *(f for f, _, _ in files.values()), "--out", out, "--workers", "1", "--quiet", "--no-report"])
    secs = time.monotonic() - t
    by = {Path(x["source"]).name: x for x in docs_of(out)} if r.returncode == 0 else {}
    for case, (f, want, _) in files.items():
        row = by.get(f.name, {})
        note = f"status {row.get('status')}" + (" (scaled to the 40 MP cap)" if row.get("error", "").startswith(
            "scaled") else "")
        record(case, 1, int(row.get("status") == want), int(not row), note)
    out2 = tmp / "oom_store"
    r = run(["ingest", giant_page(d / "giant2.pdf"), "--out", out2, "--workers", "1", "--quiet", "--no-report",
             "--max-page-pixels", "0", "--max-worker-memory", "1024"])
    row = docs_of(out2)[0] if r.returncode == 0 else {}
    record("giant page with the cap off, 1 GB worker limit", 1, int(row.get("status") == "out_of_memory"),
           int(not row), f"status {row.get('status')}; the machine is untouched")
    print(f"  hostile ingest took {secs:.1f} s")


def _teacher_build(tmp: Path, teacher: TeacherServer, extra=(), env_key=KEY, name="out") -> subprocess.CompletedProcess:
    import yaml

    store = tmp / "tstore"
    if not store.exists():
        docs = [make_document(f"doc{i}", 6, size=(308, 396)) for i in range(3)]
        for doc in docs:
            doc.pages[1]["text"] = "The Northwind plant produced 4,210 tonnes of steel in 2019."
        write_store(store, docs)
    recipe = {"max_length": 4096, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
              "mixture": {"tasks": {"extract-single": 1.0}}, "segment": {"min_pages": 3, "max_pages": 6},
              "budget_tokens": 10**6,
              "generator": {"kind": "openai", "model": "teacher-vl", "base_url": teacher.base_url,
                            "api_key_env": "BENCH_TEACHER_KEY", "timeout_s": 3, "max_retries": 0,
                            "cache_dir": str(tmp / f"cache-{name}")}}
    (tmp / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = dict(os.environ)
    env.pop("BENCH_TEACHER_KEY", None)
    if env_key:
        env["BENCH_TEACHER_KEY"] = env_key
    return run(["build", "--recipe", tmp / "r.yaml", "--store", store, "--out", tmp / name, "--workers", "1",
                "--no-report", *extra], env=env)


def _shards(out: Path) -> int:
    from mmprolong.dataset.parts import read_table

    return len(read_table(out, "shards")) if (out / "shards").exists() else 0


def _key_on_disk(folder: Path) -> int:
    return sum(KEY.encode() in f.read_bytes() for f in folder.rglob("*") if f.is_file())


def case_teacher(tmp: Path) -> None:
    t = TeacherServer()
    t.default = ("json", GOOD)
    try:
        r = _teacher_build(tmp, t, env_key="", name="nokey")
        record("build without the API key", 1, int(r.returncode == 3 and "is not set" in r.stderr),
               _shards(tmp / "nokey"), "exit 3 before planning; nothing marked done")
        t.models = ["other-model"]
        r = _teacher_build(tmp, t, name="nomodel")
        record("build with a model the server does not list", 1, int(r.returncode == 3), 0, "exit 3, names both")
        t.models = None
        t.default = ("status", 503)
        r = _teacher_build(tmp, t, ["--max-consecutive-failures", "2"], name="down")
        t.default = ("json", GOOD)
        again = _teacher_build(tmp, t, ["--max-consecutive-failures", "2"], name="down")
        record("teacher down after the preflight, then back", 1,
               int(r.returncode == 3 and "consecutive" in r.stderr and again.returncode == 0),
               3 - _shards(tmp / "down"), "stopped with the cause; the rerun completes all 3 documents")
        t.default = ("trickle", json.dumps(GOOD), 1.0)
        t0 = time.monotonic()
        r = _teacher_build(tmp, t, ["--max-consecutive-failures", "3"], name="trickle")
        secs = time.monotonic() - t0
        record("teacher trickling a valid reply at 1 byte/s (timeout_s 3)", 1,
               int(r.returncode == 3 and "timeout" in r.stderr), 0,
               f"3 requests cut at 3 s, build stopped with the cause; whole command {secs:.0f} s incl. start-up "
               "(before: ~400 s per request)")
        t.default = ("echo_auth", 401)
        r = _teacher_build(tmp, t, ["--max-consecutive-failures", "2"], name="echo")
        leaked = _key_on_disk(tmp / "echo") + (KEY in r.stdout + r.stderr)
        record("gateway echoing the rejected key (build)", 1, int(not leaked and "Bearer ***" in r.stderr), leaked,
               "key files + terminal lines holding the key")
    finally:
        t.close()


def case_eval_echo(tmp: Path) -> None:
    from mmprolong import tokens
    from mmprolong.eval.backends.openai_backend import OpenAIBackend, OpenAIConfig
    from mmprolong.eval.build import build_eval_set
    from mmprolong.eval.catalog import PageCatalog
    from mmprolong.eval.prompt import PromptConfig
    from mmprolong.eval.qaset import QAItem
    from mmprolong.eval.runner import PREDICTIONS, run_eval

    store = tmp / "tstore"
    doc_id = docs_of(store)[0]["doc_id"]
    counter = tokens.load("qwen2.5-vl")
    cat = PageCatalog(PageStore(store), counter, PromptConfig(), max_pixels=200_000)
    build_eval_set([QAItem(qa_id="q", dataset="d", doc_id=doc_id, question="?", answer="1", answer_format="String",
                           evidence_pages=[1])], cat, [2048], tmp / "set", progress=False)
    t = TeacherServer()
    t.default = ("echo_auth", 401)
    os.environ["BENCH_EVAL_KEY"] = KEY
    try:
        be = OpenAIBackend(OpenAIConfig(base_url=t.base_url, model="m", api_key_env="BENCH_EVAL_KEY", max_retries=0))
        res = run_eval(tmp / "set", be, tmp / "run", PageStore(store), counter, progress=False)
    finally:
        t.close()
        del os.environ["BENCH_EVAL_KEY"]
    leaked = int(KEY in (tmp / "run" / PREDICTIONS).read_text())
    record("gateway echoing the rejected key (eval run)", 1, int(res["errors"] == 1 and not leaked), leaked,
           "predictions.jsonl keeps `Bearer ***`")
    r = run(["eval", "run", tmp / "set", "--out", tmp / "run2", "--backend", "openai", "--base-url",
             "http://127.0.0.1:9/v1", "--served-model", "m", "--quiet"])
    record("eval run without --store on a store-backed set", 1, int(r.returncode == 3 and "--store" in r.stderr), 0,
           "exit 3 before any request")


def case_folders(tmp: Path, pdfs: list[Path]) -> None:
    build_dir = tmp / "a_build"
    (build_dir / "_progress").mkdir(parents=True)
    (build_dir / "manifest.json").write_text(json.dumps({"recipe_hash": "x"}))
    before = (build_dir / "manifest.json").read_bytes()
    r = run(["ingest", pdfs[0], "--out", build_dir, "--quiet"])
    record("ingest --out <a build folder>", 1, int(r.returncode == 4 and "holds a build" in r.stderr),
           int((build_dir / "manifest.json").read_bytes() != before), "refused; the build's manifest untouched")
    f = tmp / "a_file"
    f.write_text("x")
    r = run(["build", "--recipe", "demo", "--store", tmp / "tstore", "--out", f, "--quiet"])
    record("build --out <a file>", 1, int(r.returncode == 4 and "is a file" in r.stderr and "Traceback" not in
                                          r.stderr), int(f.read_text() != "x"), "one line, exit 4")
    if shutil.which("unshare"):
        for case, opts in (("ingest onto a full disk (300 KB tmpfs)", "size=300k"),
                           ("ingest into a read-only folder", "ro,size=1m")):
            mnt = tmp / ("mnt" + str(len(rows)))
            mnt.mkdir()
            cmd = CLI + ["ingest", str(giant_page(tmp / f"g{len(rows)}.pdf")), "--out", str(mnt / "s"),
                         "--workers", "1", "--quiet", "--no-report"]
            r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o {opts} tmpfs "$0" && exec "$@"',
                                str(mnt), *cmd], capture_output=True, text=True, timeout=300)
            one = len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
            cause = r.stderr.strip().rsplit(": ", 1)[-1]
            record(case, 1, int(r.returncode == 4 and one), 0, f"exit {r.returncode}, one line: <path>: {cause}")


def write(results: list[tuple]) -> str:
    tried = sum(r[1] for r in results)
    handled = sum(r[2] for r in results)
    lost = sum(r[3] for r in results)
    lines = ["# Reliability (fault injection)", "",
             "`PYTHONPATH=src python bench/reliability.py`: every case runs the real CLI in a subprocess against real "
             "files, processes and servers on 127.0.0.1. *Handled*: the documented outcome happened. "
             "*Data lost*: inputs without their one docs row, committed rows lost or doubled, instances missing after "
             "the rerun that should complete them, or copies of the API key on disk or screen.", "",
             "| case | tried | handled | data lost | outcome |", "|---|---:|---:|---:|---|"]
    lines += [f"| {c} | {t} | {h} | {lo} | {n} |" for c, t, h, lo, n in results]
    lines += [f"| **total** | **{tried}** | **{handled}** | **{lost}** | |", ""]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mmprolong-reliability-") as d:
        tmp = Path(d)
        pdfs = write_demo_corpus(tmp / "demo", n_docs=4, pages=(4, 6))
        case_concurrent_ingest(tmp, pdfs)
        case_killed_holder(tmp, pdfs)
        case_names_and_links(tmp, pdfs)
        case_hostile_pdfs(tmp)
        case_teacher(tmp)
        case_eval_echo(tmp)
        case_folders(tmp, pdfs)
    md = write(rows)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(md)
    print(md)
    return 0 if all(r[1] == r[2] and r[3] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
