"""A reply cache for paid generators (sqlite under cache_dir), so a rerun or a resumed build never pays twice.

Keyed by (doc_id, segment, task, prompt_version, model). Stores the teacher's raw reply text and whether it was
accepted or rejected after its retries; transport failures (timeouts, 5xx after retries) are not stored, so a rerun
tries them again. Safe across threads and processes (sqlite WAL, busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path


def cache_key(doc_id: str, segment: tuple[int, int], task: str, prompt_version: str, model: str) -> str:
    raw = json.dumps([doc_id, [int(segment[0]), int(segment[1])], task, prompt_version, model])
    return hashlib.sha256(raw.encode()).hexdigest()


class ReplyCache:
    def __init__(self, cache_dir: str | Path):
        d = Path(cache_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / "synth_replies.sqlite"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, doc_id TEXT, segment TEXT, "
                         "task TEXT, prompt_version TEXT, model TEXT, status TEXT, reason TEXT, content TEXT, "
                         "created REAL)")

    @property
    def _db(self) -> sqlite3.Connection:
        """One connection per process: a connection inherited through fork (process pools) is never reused."""
        if self._conn is None or self._pid != os.getpid():
            self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._pid = os.getpid()
        return self._conn

    def get(self, key: str) -> tuple[str, str, str] | None:
        """(status, reason, content) or None; status is 'ok' or 'rejected'."""
        with self._lock:
            row = self._db.execute("SELECT status, reason, content FROM replies WHERE key = ?", (key,)).fetchone()
        return tuple(row) if row else None

    def put(self, key: str, meta: tuple[str, tuple[int, int], str, str, str], status: str, reason: str,
            content: str) -> None:
        doc_id, segment, task, pv, model = meta
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (key, doc_id, json.dumps(list(segment)), task, pv, model, status, reason, content,
                              time.time()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict:  # picklable for process pools: reopen on the other side
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path, self._lock, self._conn, self._pid = state["path"], threading.Lock(), None, -1
