"""Durable commits, shared by the page store and the build: a rename counts only once the file's data and the folder
entry are on the device (fsync the file before the rename, the folder after it)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's: its entries') data to the device."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(tmp: Path, path: Path) -> None:
    """Rename a fully written `tmp` over `path` so that the commit survives a power loss."""
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def repair_tail(path: Path) -> None:
    """Cut a torn last line (a kill during an append, never acknowledged) so appending continues on a clean line:
    the JSONL files written one record at a time (eval predictions, hand grades)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, 2)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)
