"""Errors that stop a command before or during its work, each with its own exit code (see cli/main.py).

- `SetupError` (exit 3): the command cannot do its work as configured: a teacher or eval backend that is
  unreachable, rejects the key, does not serve the model, or failed N requests in a row for the same reason.
- `OutputError` (exit 4): the output folder cannot be used: another process writes it, it holds another kind of
  output, it is a file, it is read-only, or the disk is full. The data already committed stay safe.
"""

from __future__ import annotations

import errno

EXIT_USAGE = 2
EXIT_SETUP = 3
EXIT_OUTPUT = 4


class SetupError(ValueError):
    """The generator or backend cannot be used; the message names the cause in one line."""


class OutputError(RuntimeError):
    """The output folder cannot be written; the message names the path and the cause in one line."""


# OSError numbers that say "the output location is unusable", not "a bug"
OUTPUT_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
                 errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
                 errno.ENOTDIR: "a path component is a file, not a folder", errno.EEXIST: "exists",
                 errno.EDQUOT: "disk quota exceeded", errno.EISDIR: "is a folder"}


def output_error_from(e: OSError, folder: object = None) -> OutputError | None:
    """An OutputError naming the path (or `folder`, when the error has none) and the cause, for the OSErrors a user
    can fix (disk full, read-only folder, a file where a folder should be...); None for any other error."""
    cause = OUTPUT_ERRNOS.get(e.errno)
    if cause is None:
        return None
    path = e.filename if e.filename is not None else (folder if folder is not None else "?")
    return OutputError(f"{path}: {cause}")
