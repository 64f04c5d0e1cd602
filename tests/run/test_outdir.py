"""Output folders: two real `ingest` processes on one store (the second is refused, naming the first; nothing is
lost), a killed holder's lock recovered, and folders of another kind refused before anything is touched."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmprolong.corpus.store import PageStore
from mmprolong.errors import EXIT_OUTPUT
from mmprolong.run.outdir import HOLDER, claim


def _long_pdf(path: Path, pages: int) -> Path:
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), invariant=1)
    for i in range(pages):
        c.drawString(72, 720, f"page {i} of a long document " * 3)
        c.showPage()
    c.save()
    return path


def _ingest(inputs, out, *extra) -> list[str]:
    return [sys.executable, "-m", "mmprolong.cli.main", "ingest", *map(str, inputs), "--out", str(out),
            "--workers", "1", "--quiet", "--no-report", *extra]


def _wait_holder(out: Path, proc: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the first ingest ended before the second could start"
        try:
            return json.loads((out / HOLDER).read_text())
        except (OSError, ValueError):
            time.sleep(0.02)
    raise AssertionError("no lock holder record appeared")


def test_a_second_ingest_is_refused_naming_the_first(demo_pdfs, tmp_path):
    inputs = [*demo_pdfs, _long_pdf(tmp_path / "long.pdf", 400)]
    out = tmp_path / "store"
    first = subprocess.Popen(_ingest(inputs, out, "--dpi", "144"), start_new_session=True,
                             stderr=subprocess.PIPE, text=True)
    try:
        holder = _wait_holder(out, first)
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        second = subprocess.run(_ingest(inputs, out, "--dpi", "144"), capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first ingest must still be running when the second is refused"
        assert second.returncode == EXIT_OUTPUT
        msg = second.stderr.strip()
        assert len(msg.splitlines()) == 1 and f"pid {first.pid}" in msg and socket.gethostname() in msg
        assert "since" in msg and "Traceback" not in msg
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    docs = PageStore(out).docs_table(ok_only=False).to_pylist()
    assert sorted(d["source"] for d in docs) == sorted(map(str, inputs))   # one row each: none lost or doubled
    assert all(d["status"] == "ok" for d in docs), [(d["source"], d["error"]) for d in docs]
    assert not (out / HOLDER).exists()


def test_the_lock_of_a_killed_ingest_is_recovered(demo_pdfs, tmp_path):
    inputs = [*demo_pdfs, _long_pdf(tmp_path / "long.pdf", 400)]
    out = tmp_path / "store"
    first = subprocess.Popen(_ingest(inputs, out), start_new_session=True)
    _wait_holder(out, first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert (out / HOLDER).exists()   # the dead holder's record is still there; its OS lock is not
    again = subprocess.run(_ingest(inputs, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    docs = PageStore(out).docs_table(ok_only=False).to_pylist()
    assert sorted(d["source"] for d in docs) == sorted(map(str, inputs))


def test_claim_in_process_refuses_a_second_holder(tmp_path):
    with claim(tmp_path / "x", "page-store", "test"):
        code = ("import sys; from mmprolong.run.outdir import claim\n"
                "try:\n  claim(sys.argv[1], 'page-store').__enter__()\n"
                "except Exception as e: print(type(e).__name__, e); sys.exit(7)\n")
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x")], capture_output=True, text=True)
        assert r.returncode == 7 and r.stdout.startswith("OutputError") and f"pid {os.getpid()}" in r.stdout
    with claim(tmp_path / "x", "page-store", "test"):   # released: claimable again
        pass


def _build_folder(path: Path) -> Path:
    (path / "_progress").mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"recipe_hash": "abc", "recipe": {}}))
    return path


@pytest.mark.parametrize("case", ["build-folder", "a-file"])
def test_ingest_refuses_an_output_that_is_not_a_page_store(demo_pdfs, tmp_path, case):
    handmade_pdf = demo_pdfs[0]
    out = _build_folder(tmp_path / "built") if case == "build-folder" else tmp_path / "afile"
    if case == "a-file":
        out.write_text("not a folder")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} if out.is_dir() else out.read_bytes()
    r = subprocess.run(_ingest([handmade_pdf], out), capture_output=True, text=True, timeout=120)
    assert r.returncode == EXIT_OUTPUT, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and str(out) in r.stderr and "Traceback" not in r.stderr
    assert ("holds a build folder" if case == "build-folder" else "is a file") in r.stderr
    after = {p: p.read_bytes() for p in out.rglob("*")   # less the lock and the CLI's log of this refusal
             if p.is_file() and p.name != ".mmprolong.lock" and not p.name.startswith("mmprolong.")} \
        if out.is_dir() else out.read_bytes()
    assert after == before   # the build's manifest is untouched


def test_build_refuses_a_page_store_as_out(demo_store, tmp_path):
    r = subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", "demo", "--store",
                        str(demo_store), "--out", str(demo_store), "--quiet"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == EXIT_OUTPUT and "holds a page-store folder, not a build" in r.stderr, r.stderr
