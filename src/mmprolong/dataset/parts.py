"""Build output on disk, written so that a killed build resumes without losing or duplicating anything.

Layout of OUT: shards/, qa/, rejected/ hold `part-NNNNN.parquet` files (samples, kept QA, rejections with reasons);
_progress/part-NNNNN.json is the completion record of part NNNNN: how many planned documents (a prefix of the plan,
which the build consumes in order) are in parts 0..NNNNN, and the running totals.

A part's Parquet files are written to temporary names and renamed into place, and only then is its completion record
written (also by rename). On resume, the records say which parts exist; any part file without a record (a build
killed between the renames) and any temporary file is deleted, and the build goes on from the recorded document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..durable import durable_replace

REJECTED = schema.QA.append(pa.field("reason", pa.string()))
TABLES = {"shards": schema.SAMPLES, "qa": schema.QA, "rejected": REJECTED}
PROGRESS = "_progress"
MAX_PART_BYTES = 256 * 2**20   # a part is also cut when its embedded images reach this size (bounded memory)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    durable_replace(tmp, path)


def _write_parquet(path: Path, rows: list[dict], sch: pa.Schema) -> None:
    tmp = path.with_name(path.name + ".tmp")
    table = pa.Table.from_pylist(rows, schema=sch)
    pq.write_table(table, tmp, compression="zstd", row_group_size=64)
    durable_replace(tmp, path)


@dataclass
class Progress:
    """What the committed parts hold."""

    parts: int = 0
    docs_done: int = 0
    samples: int = 0
    tokens: int = 0
    finished: bool = False
    deferred: dict[int, str] = field(default_factory=dict)   # plan index -> why it is not done (retried later)
    extra: dict = field(default_factory=dict)


class PartWriter:
    """Buffers document results in plan order and commits them as numbered parts."""

    def __init__(self, out: Path):
        self.out = Path(out)
        for d in (*TABLES, PROGRESS):
            (self.out / d).mkdir(parents=True, exist_ok=True)
        self.progress = self._recover()
        self.buf: dict[str, list[dict]] = {k: [] for k in TABLES}
        self.buffered_bytes = 0

    def _recover(self) -> Progress:
        records = []
        for n in range(10**6):
            p = self.out / PROGRESS / f"part-{n:05d}.json"
            if not p.exists():
                break
            records.append(json.loads(p.read_text()))
        n = len(records)
        for d in (*TABLES, PROGRESS):
            for f in (self.out / d).iterdir():
                stem = f.name.split(".")[0]
                if f.name.endswith(".tmp") or (stem.startswith("part-") and int(stem[5:]) >= n):
                    f.unlink()
        if not records:
            return Progress()
        last = records[-1]
        return Progress(parts=n, docs_done=last["docs_done"], samples=last["samples"], tokens=last["tokens"],
                        finished=last.get("finished", False),
                        deferred={int(k): v for k, v in last.get("deferred", {}).items()})

    @property
    def buffered_samples(self) -> int:
        return len(self.buf["shards"])

    def full(self, shard_size: int) -> bool:
        """Time to commit: `shard_size` samples or MAX_PART_BYTES of images buffered (both content-determined, so
        part boundaries, and so the bytes of every part, are the same in every run)."""
        return self.buffered_samples >= shard_size or self.buffered_bytes >= MAX_PART_BYTES

    def add(self, samples: list[dict], qa: list[dict], rejected: list[dict]) -> None:
        self.buf["shards"].extend(samples)
        self.buffered_bytes += sum(len(b) for r in samples for b in (r.get("images") or ()))
        self.buf["qa"].extend(qa)
        self.buf["rejected"].extend(rejected)

    def commit(self, docs_done: int, finished: bool = False, deferred: dict[int, str] | None = None) -> None:
        """Write the buffered rows as the next part, then its completion record. `deferred`: planned documents
        before `docs_done` that are not done (a failed generation), with the reason; None keeps the current ones."""
        deferred = dict(self.progress.deferred if deferred is None else deferred)
        if (docs_done == self.progress.docs_done and not any(self.buf.values()) and not finished
                and deferred == self.progress.deferred):
            return
        n = self.progress.parts
        for name, sch in TABLES.items():
            _write_parquet(self.out / name / f"part-{n:05d}.parquet", self.buf[name], sch)
        p = self.progress
        p.parts, p.docs_done, p.finished, p.deferred = n + 1, docs_done, finished, deferred
        p.samples += len(self.buf["shards"])
        p.tokens += sum(r["n_tokens"] for r in self.buf["shards"])
        atomic_write_text(self.out / PROGRESS / f"part-{n:05d}.json", json.dumps(
            {"part": n, "docs_done": docs_done, "samples": p.samples, "tokens": p.tokens, "finished": finished,
             "deferred": {str(k): v for k, v in sorted(deferred.items())}}))
        self.buf = {k: [] for k in TABLES}
        self.buffered_bytes = 0


def read_table(out: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """All committed parts of shards/, qa/ or rejected/ as one table (in part order)."""
    files = sorted((Path(out) / name).glob("part-*.parquet"))
    if not files:
        return TABLES[name].empty_table() if columns is None else pa.table(
            {c: pa.array([], TABLES[name].field(c).type) for c in columns})
    return pa.concat_tables([pq.read_table(f, columns=columns, schema=TABLES[name]) for f in files])
