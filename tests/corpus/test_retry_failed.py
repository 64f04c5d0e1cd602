"""`ingest --retry-failed`: inputs recorded as error or timeout are skipped by a plain rerun (the summary says how
many wait) and given another try with the flag; the store keeps one row per input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from mmprolong.corpus.store import PageStore

from ..run.test_outdir import _long_pdf


def _ingest(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "ingest", *map(str, args), "--workers", "1",
                           "--no-report", "--dpi", "72"], capture_output=True, text=True, timeout=300)


def _slow_pdf(path, pages: int = 600):
    """Pages dense with text (40 lines each): about 7 ms a page at 72 DPI on a 2-core EPYC, so well over the
    test's 1 s limit on a CPU several times faster (a page of one line no longer is: ingest got faster)."""
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(path), invariant=1)
    for i in range(pages):
        for j in range(40):
            c.drawString(72, 740 - 17 * j, f"page {i} line {j} of a long document with words " * 2)
        c.showPage()
    c.save()


def test_retry_failed_gives_error_and_timeout_rows_another_try(demo_pdfs, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    _long_pdf(drop / "a.pdf", 1)
    os.symlink(tmp_path / "later.pdf", drop / "b.pdf")      # unreadable now (dangling), fine later
    _slow_pdf(drop / "slow.pdf")
    out = tmp_path / "store"
    r = _ingest(drop, "--out", out, "--timeout", "1")
    assert r.returncode == 0, r.stderr

    def rows():
        return {os.path.basename(d["source"]): d["status"] for d in
                PageStore(out).docs_table(ok_only=False).to_pylist()}

    assert rows() == {"a.pdf": "ok", "b.pdf": "error", "slow.pdf": "timeout"}
    shutil.copy(demo_pdfs[1], tmp_path / "later.pdf")         # the cause is gone
    r = _ingest(drop, "--out", out)
    assert r.returncode == 0 and rows()["b.pdf"] == "error"    # a plain rerun skips them ...
    assert "waiting for --retry-failed" in r.stderr and "2 (error / timeout)" in r.stderr   # ... and says so
    r = _ingest(drop, "--out", out, "--retry-failed")
    assert r.returncode == 0, r.stderr
    assert rows() == {"a.pdf": "ok", "b.pdf": "ok", "slow.pdf": "ok"}
    assert PageStore(out).docs_table(ok_only=False).num_rows == 3 and "0 (error / timeout)" in r.stderr
