"""Hostile PDFs made here, through the real CLI: a recursive page tree and a 5,000-level one are `corrupt` (not
`error`); a 20000 x 20000 pt page is rendered scaled down to the pixel cap and recorded as such; with the cap off,
the per-worker memory limit turns the explosion into an `out_of_memory` row instead of a machine-wide OOM."""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

from mmprolong.corpus.ingest import RETRY_STATUSES
from mmprolong.corpus.store import PageStore


def _write_pdf(path: Path, objs: list[bytes]) -> Path:
    out = bytearray(b"%PDF-1.4\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    path.write_bytes(bytes(out))
    return path


def recursive_tree(path: Path) -> Path:
    return _write_pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 600] >>"])


def deep_tree(path: Path, depth: int = 5000) -> Path:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    objs += [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (3 + k) for k in range(depth)]
    return _write_pdf(path, objs + [b"<< /Type /Page /MediaBox [0 0 600 600] >>"])


def giant_page(path: Path) -> Path:
    return _write_pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 20000 20000] >>"])   # ~600 bytes


def flate_bomb(path: Path, gib: int = 1) -> Path:
    """A ~1 MB page whose content stream inflates to ~`gib` GiB of zeros. Deflating zeros reaches a periodic state,
    so a few 16 MiB chunks are compressed and the steady chunk repeated (the trailing checksum is then wrong, which
    matters only once the whole stream has been inflated)."""
    c = zlib.compressobj(9)
    zeros = b"\0" * (16 << 20)
    head = [c.compress(zeros) for _ in range(3)]
    data = head[0] + head[1] + head[2] * (64 * gib - 2) + c.flush()
    return _write_pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 600] /Contents 4 0 R >>",
                             b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"])


def _ingest(inputs, out: Path, *extra) -> dict[str, dict]:
    r = subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "ingest", *map(str, inputs), "--out", str(out),
                        "--workers", "1", "--quiet", "--no-report", *extra], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return {Path(d["source"]).name: d for d in PageStore(out).docs_table(ok_only=False).to_pylist()}


def test_broken_page_trees_are_corrupt(tmp_path):
    docs = _ingest([recursive_tree(tmp_path / "rec.pdf"), deep_tree(tmp_path / "deep.pdf")], tmp_path / "s")
    assert docs["rec.pdf"]["status"] == "corrupt" and "cannot load the page" in docs["rec.pdf"]["error"]
    assert docs["deep.pdf"]["status"] == "corrupt"


def test_a_giant_page_is_rendered_at_the_pixel_cap(tmp_path):
    path = giant_page(tmp_path / "giant.pdf")
    assert path.stat().st_size < 1000
    docs = _ingest([path], tmp_path / "s")   # the default cap
    row = docs["giant.pdf"]
    assert row["status"] == "ok" and row["error"].startswith("scaled: 1 pages rendered below 144 dpi")
    page = PageStore(tmp_path / "s").document(row["doc_id"]).pages[0]
    assert page["image_width"] * page["image_height"] <= 40_000_000 and page["width"] == 20000.0


def test_without_the_cap_the_memory_limit_records_out_of_memory(tmp_path):
    docs = _ingest([giant_page(tmp_path / "giant.pdf")], tmp_path / "s", "--max-page-pixels", "0",
                   "--max-worker-memory", "1024")
    assert docs["giant.pdf"]["status"] == "out_of_memory", docs["giant.pdf"]


def test_a_flate_bomb_under_the_memory_limit_is_out_of_memory_and_not_retried(tmp_path):
    """pdfium aborts (SIGABRT, exit -6) when an allocation fails under the worker's limit: that death is the limit at
    work, recorded `out_of_memory` (it was `error`), so `--retry-failed` does not try it again."""
    bomb = flate_bomb(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 2_000_000
    row = _ingest([bomb], tmp_path / "s", "--max-worker-memory", "800")["bomb.pdf"]
    assert row["status"] == "out_of_memory", row
    assert "SIGABRT under its 800 MB memory limit" in row["error"] and "exit code -6" in row["error"]
    assert row["status"] not in RETRY_STATUSES   # what --retry-failed tries again: error and timeout rows only
