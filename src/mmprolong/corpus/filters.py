"""Which documents may enter the store: the decontamination list and the page-count window.

Evaluation documents must never enter training data: they are removed by the SHA-256 of the PDF bytes (as in the
paper), read from exclusion files whose lines are either a hash or a path to a PDF (hashed here).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .inputs import expand_inputs

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def sha256_file(path: str | Path) -> str:
    """The document id: SHA-256 of the file's bytes, streamed (no whole file in memory)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_exclusions(files: list[str | Path]) -> set[str]:
    """SHA-256 hashes from exclusion files: one hash, PDF path, folder or glob per line; "#" starts a comment."""
    out: set[str] = set()
    for file in files:
        file = Path(file)
        if not file.is_file():
            raise FileNotFoundError(f"exclude: {file}: no such file")
        for n, line in enumerate(file.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if SHA256.match(line):
                out.add(line.lower())
                continue
            target = line if Path(line).is_absolute() else str(file.parent / line)
            try:
                paths = expand_inputs([target])
            except FileNotFoundError:
                raise FileNotFoundError(f"exclude: {file}:{n}: {line!r} is neither a SHA-256 hash nor an existing "
                                        f"file") from None
            out.update(sha256_file(p) for p in paths)
    return out


def page_count_status(n_pages: int, min_pages: int, max_pages: int | None) -> tuple[str, str] | None:
    """(status, error) when a document's page count is outside [min_pages, max_pages], else None."""
    if n_pages < min_pages:
        return "too_few_pages", f"{n_pages} pages < --min-pages {min_pages}"
    if max_pages is not None and n_pages > max_pages:
        return "too_many_pages", f"{n_pages} pages > --max-pages {max_pages}"
    return None
