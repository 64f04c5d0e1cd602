"""The held-out list: doc_ids (sha256 of the PDF bytes), one per line, that ingestion and synthesis must skip.

It is a local file: `ingest --exclude` reads local files, so a list on object storage could not be honoured; a URL
is refused (`check_local`) before any work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def check_local(path: str | Path | None) -> None:
    """A usage error (ValueError) when the exclusion list is a URL (see the module doc)."""
    from .. import storage

    if path is not None and not storage.is_local(path):
        raise ValueError(f"--exclude-out {path}: the exclusion list must be a local file (ingest --exclude reads "
                         "local files)")


def read_exclusion(path: str | Path) -> set[str]:
    p = Path(path)
    if not p.exists():
        return set()
    return {ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")}


def add_to_exclusion(path: str | Path, doc_ids: Iterable[str]) -> int:
    """Merge doc_ids into the list (sorted, unique, atomic write); returns how many were new."""
    check_local(path)
    p = Path(path)
    have = read_exclusion(p)
    new = {d for d in doc_ids if d} - have
    if not new and p.exists():
        return 0
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + f".tmp{os.getpid()}")
    tmp.write_text("".join(f"{d}\n" for d in sorted(have | new)))
    tmp.replace(p)
    return len(new)
