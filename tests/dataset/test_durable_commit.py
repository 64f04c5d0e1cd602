"""A commit counts only once it is durable: every part file of a build and of a page store is fsynced before its
rename and its folder after it (a power loss cannot leave a renamed but empty part). Observed by wrapping the real
os.fsync / os.replace (a power loss cannot be run in a test)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mmprolong.corpus.writer import StoreWriter
from mmprolong.dataset.parts import PartWriter


def _spy(monkeypatch) -> list[tuple[str, str]]:
    ops: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        ops.append(("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync", path))
        return real_fsync(fd)

    def replace(a, b):
        ops.append(("replace", str(b)))
        return real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return ops


def _check(ops: list[tuple[str, str]], root: Path) -> int:
    n = 0
    for k, (op, path) in enumerate(ops):
        if op != "replace":
            continue
        n += 1
        tmp = path + ".tmp"
        assert ("fsync", tmp) in ops[:k], f"{path} renamed before its data was fsynced"
        assert k + 1 < len(ops) and ops[k + 1] == ("fsync-dir", str(Path(path).parent)), \
            f"{path}: folder not fsynced after the rename"
    return n


def test_build_parts_are_durable(tmp_path, monkeypatch):
    w = PartWriter(tmp_path / "out")
    ops = _spy(monkeypatch)
    w.add([], [], [{"qa_id": "x", "doc_id": "d", "task": "t", "reason": "r"}])
    w.commit(1, finished=True)
    assert _check(ops, tmp_path / "out") == 4   # shards, qa, rejected parts and the completion record


def test_store_parts_are_durable(tmp_path, monkeypatch):
    w = StoreWriter(tmp_path / "store")
    ops = _spy(monkeypatch)
    w.add({"doc_id": "d", "source": "a.pdf", "n_pages": 0, "title": "", "sections": [], "sections_from": "none",
           "status": "error", "error": "x", "file_bytes": 0, "dpi": 0, "seconds": 0.0})
    w.close()
    w.write_manifest({}, {}, complete=True)
    assert _check(ops, tmp_path / "store") == 2   # the docs part and the manifest
