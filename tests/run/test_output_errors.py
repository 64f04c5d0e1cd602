"""User mistakes about the output location give one line naming the path and the cause, exit code 4, no traceback,
and committed data stay safe: `build --out <a file>`, a read-only folder and a full disk (a small tmpfs mounted in a
private mount namespace; skipped where mounting is not allowed)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mmprolong.errors import EXIT_OUTPUT

from ..corpus.test_hostile_pdfs import giant_page

CLI = [sys.executable, "-m", "mmprolong.cli.main"]


def _in_tmpfs(mount_point, options: str, command: list[str]) -> subprocess.CompletedProcess:
    """Run `command` with a fresh tmpfs (`options`) at `mount_point`, in a private mount namespace."""
    if not shutil.which("unshare"):
        pytest.skip("unshare not available")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {mount_point}"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mounting a tmpfs is not allowed here")
    script = f'mount -t tmpfs -o {options} tmpfs "$0" && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, str(mount_point), *command], capture_output=True,
                          text=True, timeout=300)


def _one_line(r) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_build_out_is_a_file(demo_store, tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("keep me")
    r = subprocess.run(CLI + ["build", "--recipe", "demo", "--store", str(demo_store), "--out", str(f), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == EXIT_OUTPUT and f"{f}: exists and is a file" in _one_line(r)
    assert f.read_text() == "keep me"


def test_ingest_into_a_read_only_folder(tmp_path, demo_pdfs):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    r = _in_tmpfs(mnt, "ro,size=1m", CLI + ["ingest", str(demo_pdfs[0]), "--out", str(mnt / "store"), "--quiet"])
    assert r.returncode == EXIT_OUTPUT and "read-only file system" in _one_line(r) and str(mnt) in r.stderr


def test_ingest_onto_a_full_disk(tmp_path):
    mnt = tmp_path / "full"
    mnt.mkdir()
    pdf = giant_page(tmp_path / "giant.pdf")   # one page of ~1 MB JPEG: more than the disk holds
    r = _in_tmpfs(mnt, "size=300k", CLI + ["ingest", str(pdf), "--out", str(mnt / "store"), "--workers", "1",
                                           "--quiet", "--no-report"])
    assert r.returncode == EXIT_OUTPUT and "no space left on the device" in _one_line(r)
    assert str(mnt / "store") in r.stderr
