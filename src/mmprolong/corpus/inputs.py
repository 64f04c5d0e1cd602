"""Turn what the user typed (files, folders, globs, list files) into the ordered list of files to ingest.

- a folder: every *.pdf below it (any case), recursively, sorted;
- a glob ("data/**/*.pdf"): its matches, sorted (folders among them expand as folders);
- a .txt / .lst file: one path, folder or glob per line ("#" comments and blank lines skipped), relative paths
  taken from the list file's folder;
- any other file: itself, whatever its name (a bad file is recorded as a failure, not refused here).
Paths are kept as given (they become `source` in the docs table, in the printable form `printable`) and a path
named twice is listed once; two names of one file (symlinks) are two inputs (the second becomes a "duplicate" row).
One docs row per input: a symlink loop, a dangling link or an unreadable folder is listed (and recorded with its
reason), never dropped; symlinked folders inside a folder are not followed (no loops).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

LIST_SUFFIXES = (".txt", ".lst")
_GLOB_CHARS = set("*?[")


def printable(path: str) -> str:
    """A file name as stored text: the name itself when it is valid UTF-8 without a backslash, else with its
    undecodable bytes written as \\xNN escapes and each backslash doubled. Lossless and one-to-one (a name holding
    the byte 0xff and one holding the text `\\xff` are two stored names), printable, and accepted by Parquet."""
    if "\\" in path:
        path = path.replace("\\", "\\\\")
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _folder(d: Path) -> list[str]:
    out: list[str] = []

    def unreadable(e: OSError) -> None:   # listed: it gets its docs row ("error", cannot read)
        out.append(str(e.filename))

    for root, dirs, files in os.walk(d, onerror=unreadable):
        dirs.sort()
        # `files` holds every entry that is not a folder: files, symlinks to files, dangling links and loops
        out += [os.path.join(root, f) for f in files if f.lower().endswith(".pdf")]
    return sorted(out)


def _expand_one(arg: str, base: Path | None, allow_lists: bool) -> list[str]:
    path = Path(arg) if base is None or os.path.isabs(arg) else base / arg
    if path.is_dir():
        return _folder(path)
    if os.path.islink(path) and not path.exists():   # a dangling link or a loop named on the command line
        return [str(path)]
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
    """Files to ingest, in the order given, each path once."""
    if not inputs:
        raise ValueError("inputs: give at least one PDF, folder, glob or list file")
    seen: set[str] = set()
    out: list[str] = []
    for arg in inputs:
        for p in _expand_one(str(arg), None, allow_lists=True):
            key = os.path.abspath(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out
