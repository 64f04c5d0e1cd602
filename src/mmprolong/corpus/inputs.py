"""Turn what the user typed (files, folders, globs, list files) into the ordered list of files to ingest.

- a folder: every *.pdf below it (any case), recursively, sorted;
- a glob ("data/**/*.pdf"): its matches, sorted (folders among them expand as folders);
- a .txt / .lst file: one path, folder or glob per line ("#" comments and blank lines skipped), relative paths
  taken from the list file's folder;
- any other file: itself, whatever its name (a bad file is recorded as a failure, not refused here).
Paths are kept as given (they become `source` in the docs table) and a file named twice is listed once.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

LIST_SUFFIXES = (".txt", ".lst")
_GLOB_CHARS = set("*?[")


def _folder(d: Path) -> list[str]:
    return sorted(str(p) for p in d.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())


def _expand_one(arg: str, base: Path | None, allow_lists: bool) -> list[str]:
    path = Path(arg) if base is None or os.path.isabs(arg) else base / arg
    if path.is_dir():
        return _folder(path)
    if path.is_file():
        if allow_lists and path.suffix.lower() in LIST_SUFFIXES:
            return read_list(path)
        return [str(path)]
    if _GLOB_CHARS & set(arg):
        out: list[str] = []
        for m in sorted(glob.glob(str(path), recursive=True)):
            out += _folder(Path(m)) if os.path.isdir(m) else [m]
        if out:
            return out
        raise FileNotFoundError(f"{arg}: the pattern matches no file")
    raise FileNotFoundError(f"{arg}: no such file or folder")


def read_list(list_file: str | Path) -> list[str]:
    """The files named by a list file (one path, folder or glob per line)."""
    list_file = Path(list_file)
    out: list[str] = []
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out += _expand_one(line, list_file.parent, allow_lists=False)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{list_file}:{n}: {e}") from None
    return out


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files to ingest, in the order given, each once (by real path)."""
    if not inputs:
        raise ValueError("inputs: give at least one PDF, folder, glob or list file")
    seen: set[str] = set()
    out: list[str] = []
    for arg in inputs:
        for p in _expand_one(str(arg), None, allow_lists=True):
            key = os.path.realpath(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out
