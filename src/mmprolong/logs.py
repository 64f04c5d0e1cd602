"""Logging for the whole package: our records on the terminal through rich, everything in a log file per output folder.

Library modules log with `logging.getLogger(__name__)` and never print. The CLI calls `setup(level)` once, and
`log_to(folder)` for the folder a command writes, so each output folder keeps a complete `mmprolong.log` (DEBUG and
up, third-party records included). The terminal shows only the `mmprolong` logger at the chosen level: third-party
warnings (py.warnings, torch, Ray, transformers) and their progress bars go to the log file, not into our output.

Light on purpose: imported by `mmprolong --help`, so it imports neither rich's heavier parts nor any ML library.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

LOG_FILE = "mmprolong.log"
LEVELS = ("debug", "info", "warning", "error")
_FMT = "%(asctime)s %(levelname)-7s %(name)s [%(process)d@%(hostname)s] %(message)s"

# Third-party switches read at their import: no progress bars of theirs in our terminal, transformers' own handler
# limited to errors (its records still reach our log file through propagation when a command enables it).
_QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1",
              "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "RAY_DEDUP_LOGS": "1"}
_console = None


class _HostFilter(logging.Filter):
    host = socket.gethostname()

    def filter(self, record: logging.LogRecord) -> bool:
        record.hostname = self.host
        return True


def console():
    """The one stderr console: progress bars and log lines drawn through it do not tear each other."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True)
    return _console


def quiet_third_party() -> None:
    """Route other libraries' chatter to the log file: environment switches they read at import, Python warnings
    captured as records of `py.warnings`, and their loggers kept off the terminal (they propagate to the root logger,
    whose only handlers are log files)."""
    for k, v in _QUIET_ENV.items():
        os.environ.setdefault(k, v)
    logging.captureWarnings(True)
    for name in ("py.warnings", "torch", "ray", "transformers", "urllib3", "httpx", "openai", "matplotlib", "PIL",
                 "filelock", "fsspec", "datasets", "huggingface_hub"):
        lg = logging.getLogger(name)
        lg.propagate = True
        if name != "py.warnings":
            lg.setLevel(logging.WARNING)
    import sys

    tf = sys.modules.get("transformers")
    if tf is not None:  # already imported: take its records off its own stderr handler
        route_transformers()


def route_transformers() -> None:
    """transformers installs its own stderr handler and stops propagation; undo that so its records go to our log
    file only. Called by the modules that import transformers."""
    try:
        from transformers.utils import logging as tlog

        tlog.disable_default_handler()
        tlog.enable_propagation()
        tlog.disable_progress_bar()
    except Exception:  # noqa: BLE001 - an optional dependency's API: never fail a run over log routing
        pass


def setup(level: str = "info") -> None:
    """Terminal handler for the `mmprolong` logger at `level`; root keeps DEBUG records for the log files."""
    from rich.logging import RichHandler

    level_no = getattr(logging, str(level).upper(), None)
    if not isinstance(level_no, int):
        raise ValueError(f"--log-level must be one of {', '.join(LEVELS)}, got {level!r}")
    quiet_third_party()
    pkg = logging.getLogger("mmprolong")
    for h in list(pkg.handlers):
        if getattr(h, "_mmprolong", False):
            pkg.removeHandler(h)
    h = RichHandler(console=console(), show_path=False, show_time=False, rich_tracebacks=False, markup=False)
    h.setLevel(level_no)
    h._mmprolong = True
    pkg.addHandler(h)
    pkg.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    if not any(isinstance(x, logging.NullHandler) for x in root.handlers):
        root.addHandler(logging.NullHandler())  # no lastResort printing of third-party records on the terminal


def log_to(folder: str | os.PathLike) -> Path:
    """Append every record (DEBUG and up, all libraries) to FOLDER/mmprolong.log; idempotent. Under torchrun, ranks
    other than 0 write mmprolong.rank<N>.log beside it."""
    rank = int(os.environ.get("RANK", "0") or 0)
    path = Path(folder) / (LOG_FILE if rank == 0 else f"mmprolong.rank{rank}.log")
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve():
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setLevel(logging.DEBUG)
    fh.addFilter(_HostFilter())
    fh.setFormatter(logging.Formatter(_FMT))
    root.addHandler(fh)
    return path


def close_files() -> None:
    """Detach and close the log files (tests run several commands in one process)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.FileHandler):
            root.removeHandler(h)
            h.close()
