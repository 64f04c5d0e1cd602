"""Output folders: one writer at a time, and only the kind of output a command writes.

`claim(folder, kind, command)` is a context manager every command that writes a folder holds for its whole run:
- the folder is created (a file at that path, a read-only parent or a full disk: OutputError naming the path);
- an exclusive lock (filelock: an OS file lock, which the kernel drops when its holder dies, so the lock of a
  killed process is recovered with no manual step) on FOLDER/.mmprolong.lock; a second writer is refused with
  OutputError naming the holder (pid, host, command, since when), read from the sidecar FOLDER/.mmprolong.lock.json;
- a folder that holds another kind of output (a build folder given to ingest, a page store given to build, an
  export folder given to ingest, ...) is refused, before anything in it is touched. The kind is read from the
  folder's own markers (manifest fields, the files each command writes) and from FOLDER/.mmprolong.kind, which a
  claim writes once the folder is its own: so a half-written output (a killed export) is recognised too. Files named
  `mmprolong.*` are the CLI's log files and say nothing about the kind (any command may log into any folder).

On object storage (an fsspec URL such as s3://bucket/store, `mmprolong.storage`) there is no lock the service
drops when its holder dies, so the claim is best effort and says so in a log warning: the holder record
FOLDER/.mmprolong.lock.json is the lock object, removed when the claim ends. While it is held, its holder rewrites
it every LOCK_BEAT_S seconds (`beat`). A claim is refused while the record is live, naming the holder; a dead
holder's record (a kill -9, a lost node) is taken over with a warning: on the same host (same boot, same pid
namespace) when its pid no longer runs,
from any host when its last beat is older than LOCK_STALE_S (clocks assumed within minutes of each other; a record
without beats, e.g. written by hand, is never taken over: delete it). Two writers starting in the same instant can
both pass (the record is written, then read back, which narrows but does not close that window). The kind check
reads FOLDER/.mmprolong.kind and the manifest's format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from ..errors import OutputError, output_error_from

log = logging.getLogger(__name__)

LOCK = ".mmprolong.lock"
HOLDER = ".mmprolong.lock.json"
# object storage: how often a holder rewrites its record, and how old a record's last beat is when its holder is
# taken for dead (environment overrides, for tests and for clusters whose stores answer slowly)
def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
        if value > 0:
            return value
    except ValueError:
        pass
    log.warning("%s=%r is not a positive number of seconds; using %g", name, os.environ.get(name), default)
    return default


LOCK_BEAT_S = _env_seconds("MMPROLONG_LOCK_BEAT_S", 60)
LOCK_STALE_S = _env_seconds("MMPROLONG_LOCK_STALE_S", 600)
KIND_FILE = ".mmprolong.kind"
HIDDEN = {LOCK, HOLDER, HOLDER + ".tmp", KIND_FILE}
KINDS = ("page-store", "build", "eval-set", "eval-run", "eval-report", "export", "train", "sft-import",
         "token-report", "synth")


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def is_bookkeeping(name: str) -> bool:
    """A file the claim or the CLI writes into any output folder (the lock, its record, the kind marker, the log
    files mmprolong.log / mmprolong.rank<N>.log): not content, so it says nothing about what a folder holds."""
    return name in HIDDEN or name.startswith((".mmprolong.", "mmprolong."))


def detect_kind(folder: Path) -> str | None:
    """What a folder holds, from its own markers (None: empty, or nothing mmprolong wrote)."""
    if not folder.is_dir():
        return None
    names = {p.name for p in folder.iterdir() if not is_bookkeeping(p.name)}
    try:
        marked = (folder / KIND_FILE).read_text().strip()
    except OSError:
        marked = ""
    if marked in KINDS:
        return marked
    if not names:
        return None
    man: dict = {}
    if "manifest.json" in names:
        try:
            man = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            man = {}
    if str(man.get("format", "")).startswith("mmprolong-page-store") or {"docs", "pages"} <= names:
        return "page-store"
    if man.get("kind") == "import-sft" or (folder / "_progress" / "import.json").exists():
        return "sft-import"
    if "_progress" in names or "recipe_hash" in man:
        return "build"
    if "instances.jsonl" in names:
        return "eval-set"
    if "run.json" in names:
        return "eval-run"
    if "predictions.jsonl" in names:   # eval report writes report.md beside the scored predictions, no run.json
        return "eval-report" if "report.md" in names else "eval-run"
    if ("dataset_info.json" in names or "mmprolong_export.json" in names
            or any(n.endswith("_swift.json") for n in names)):
        return "export"     # llamafactory, hf, swift
    if "checkpoints" in names or "metrics.jsonl" in names:
        return "train"
    if "tokens_docs.parquet" in names or "tokens.md" in names:
        return "token-report"
    if "qa" in names and (folder / "qa").is_dir():
        return "synth"
    return None


def _holder(folder: Path) -> str:
    try:
        h = json.loads((folder / HOLDER).read_text())
        return (f"pid {h.get('pid')} on host {h.get('host')} ({h.get('command', '?')}) since "
                f"{h.get('since', '?')}")
    except (OSError, ValueError):
        return "another process (no holder record)"


def _mkdir(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is a file, not a folder; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise (output_error_from(e) or e) from None


def _process_space() -> str:
    """Which processes a pid names here: this boot of this machine and this pid namespace. Two containers can
    share a host name (host networking) but not both, so a pid is only looked up where it means the same process."""
    parts = []
    for path, read in (("/proc/sys/kernel/random/boot_id", lambda p: Path(p).read_text().strip()),
                       ("/proc/self/ns/pid", os.readlink)):
        try:
            parts.append(read(path))
        except OSError:
            return ""
    return " ".join(parts)


def _holder_info(command: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_space": _process_space(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))}


@contextlib.contextmanager
def _claim_remote(url: str, kind: str, command: str) -> Iterator[str]:
    """Best-effort claim of an output on object storage (see the module docstring)."""
    import uuid

    from .. import storage

    url = storage.normalize(url)
    storage.filesystem(url)   # an unknown protocol or a missing fsspec package fails here, before any warning
    lock = storage.join(url, HOLDER)
    log.warning("%s: object storage has no process locks; holding it with the record %s (best effort: start one "
                "writer at a time)", url, HOLDER)

    def holder() -> str:
        try:
            h = json.loads(storage.read_text(lock))
            return (f"pid {h.get('pid')} on host {h.get('host')} ({h.get('command', '?')}) since "
                    f"{h.get('since', '?')}")
        except (OSError, ValueError):
            return "another process"

    if storage.exists(lock):
        dead = _dead_holder(storage.read_text(lock))
        if dead is None:
            raise OutputError(f"{url}: in use by {holder()}; if that process is gone (killed), delete {lock} and "
                              f"run again, or use another output folder")
        log.warning("%s: taking over the record of %s: %s", url, holder(), dead)
    found = None
    kind_url = storage.join(url, KIND_FILE)
    if storage.exists(kind_url):
        found = storage.read_text(kind_url).strip() or None
    elif storage.exists(storage.join(url, "manifest.json")):
        try:
            man = json.loads(storage.read_text(storage.join(url, "manifest.json")))
        except ValueError:
            man = {}
        found = "page-store" if str(man.get("format", "")).startswith("mmprolong-page-store") else None
    if found is not None and found != kind:
        raise OutputError(f"{url}: holds {_a(found)} folder, not {_a(kind)}; use another output folder")
    info = {**_holder_info(command), "token": uuid.uuid4().hex, "beat": time.time()}
    storage.makedirs(url)
    storage.write_text(lock, json.dumps(info))
    try:
        if json.loads(storage.read_text(lock)).get("token") != info["token"]:
            raise OutputError(f"{url}: claimed at the same moment by {holder()}; use another output folder")
    except ValueError:
        raise OutputError(f"{url}: claimed at the same moment by another process") from None
    if not storage.exists(kind_url):
        storage.write_text(kind_url, kind + "\n")
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(lock, info, stop), name="mmprolong-lock-beat", daemon=True)
    beat.start()
    try:
        yield url
    finally:
        stop.set()
        beat.join()
        storage.remove(lock)


def _dead_holder(record: str) -> str | None:
    """Why the holder of this lock record is dead, or None while it may be alive (see the module docstring)."""
    try:
        h = json.loads(record)
        pid, beat = int(h.get("pid", 0)), h.get("beat")
    except (ValueError, TypeError):
        return None
    space = _process_space()
    if space and h.get("pid_space") == space and h.get("host") == socket.gethostname() and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"its process {pid} no longer runs on this host"
        except PermissionError:   # alive, another user's
            return None
    if isinstance(beat, (int, float)) and time.time() - beat > LOCK_STALE_S:
        return f"its last beat was {time.time() - beat:.0f} s ago (over {LOCK_STALE_S:.0f} s)"
    return None


def _beat(lock: str, info: dict, stop: threading.Event) -> None:
    """Rewrite the holder record every LOCK_BEAT_S seconds while the claim is held."""
    from .. import storage

    while not stop.wait(LOCK_BEAT_S):
        try:
            if json.loads(storage.read_text(lock)).get("token") != info["token"]:
                log.error("%s: another process took over this output's lock record; two writers may be running",
                          lock)
                return
            storage.write_text(lock, json.dumps({**info, "beat": time.time()}))
        except (OSError, ValueError) as e:   # a store that does not answer now: the next beat tries again
            log.debug("%s: lock beat failed: %s", lock, e)


@contextlib.contextmanager
def claim(folder: str | Path, kind: str, command: str = "") -> Iterator[Path | str]:
    """Hold `folder` as the only writer of a `kind` output for the `with` block (see the module docstring).
    Yields the folder: a Path, or the URL string on object storage."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}; one of {', '.join(KINDS)}")
    from .. import storage

    if not storage.is_local(folder):
        with _claim_remote(os.fspath(folder), kind, command) as url:
            yield url
        return
    folder = storage.local_path(folder)
    _mkdir(folder)
    lock = FileLock(str(folder / LOCK), timeout=0, thread_local=False, preserve_lock_file=True)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(f"{folder}: in use by {_holder(folder)}; wait for it to finish, or use another "
                          f"output folder") from None
    except OSError as e:
        raise (output_error_from(e) or e) from None
    try:
        prev = folder / HOLDER
        if prev.exists():
            log.info("%s: recovered the lock of a process that ended without releasing it (%s)", folder,
                     _holder(folder))
        found = detect_kind(folder)
        if found is not None and found != kind:
            raise OutputError(f"{folder}: holds {_a(found)} folder, not {_a(kind)}; use another output folder")
        info = _holder_info(command)
        tmp = folder / (HOLDER + ".tmp")
        try:
            tmp.write_text(json.dumps(info))
            os.replace(tmp, folder / HOLDER)
            if not (folder / KIND_FILE).exists():
                (folder / KIND_FILE).write_text(kind + "\n")
        except OSError as e:
            raise (output_error_from(e) or e) from None
        try:
            yield folder
        except OSError as e:   # disk full, read-only, ... while writing: one line naming the folder
            err = output_error_from(e, folder)
            if err is None:
                raise
            raise err from None
    finally:
        with contextlib.suppress(OSError):
            (folder / HOLDER).unlink()
        lock.release()
