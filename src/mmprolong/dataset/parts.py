"""Build output on disk (a local folder or an fsspec URL), written so that a killed build resumes without losing or
duplicating anything.

Layout of OUT: shards/, qa/, rejected/ hold `part-NNNNN.parquet` files (samples, kept QA, rejections with reasons);
_progress/part-NNNNN.json is the completion record of part NNNNN: how many planned documents (a prefix of the plan,
which the build consumes in order) are in parts 0..NNNNN, and the running totals. _staging/ holds what workers wrote
for documents not yet committed: `<plan index>.parquet`, the document's sample rows with their page images.

Workers keep the image bytes: each writes its document's samples to _staging/ and sends the driver only light
metadata (per sample: qa_id, task, n_tokens, image bytes). The driver decides which samples are kept (plan order,
quota) and, when a part is complete, `write_part` assembles its three Parquet files from the staged files (the kept
rows, in plan order) where it is called: a Ray task on a Ray build, the driver process otherwise (see build.py).

A part's Parquet files are committed (storage.write_parquet: atomic rename locally, one whole-object write on object
storage), and only then is its completion record written; then the staged files of its documents are deleted. On
resume, the records say which parts exist; any part file without a record (a build killed between the commits), any
temporary file and every staged file is deleted, and the build goes on from the recorded document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema, storage

REJECTED = schema.QA.append(pa.field("reason", pa.string()))
TABLES = {"shards": schema.SAMPLES, "qa": schema.QA, "rejected": REJECTED}
PROGRESS = "_progress"
STAGING = "_staging"
MAX_PART_BYTES = 256 * 2**20   # a part is also cut when its embedded images reach this size (bounded memory)


def _write_parquet(url, table: pa.Table) -> None:
    storage.write_parquet(table, url, compression="zstd", row_group_size=64)


def staged_url(out, index: int) -> str:
    """Where the worker of plan document `index` stages its sample rows."""
    return storage.join(out, STAGING, f"{index}.parquet")


def stage_samples(url, rows: list[dict]) -> None:
    """A worker's side: its document's sample rows, images included, committed under `url` (uncompressed: the
    images are JPEGs, and the file is read once)."""
    storage.write_parquet(pa.Table.from_pylist(rows, schema=schema.SAMPLES), url, compression="none")


def _read_staged(url, indices: list[int]) -> pa.Table:
    t = storage.parquet_file(url).read()
    return t.take(pa.array(indices, pa.int64()))


def write_part(out, n: int, shards: list, qa: list[dict], rejected: list[dict]) -> int:
    """Write part `n` of shards/, qa/ and rejected/ under `out` (not its completion record). `shards`: in order,
    either a list of sample rows or `(staged url, [row indices kept])`; the rows are those a build written in one
    process would hold, so the bytes are the same. A plain function: it runs where the data is. Returns the number
    of samples written."""
    tables = []
    for src in shards:
        if isinstance(src, tuple):
            if src[1]:
                tables.append(_read_staged(*src))
        elif src:
            tables.append(pa.Table.from_pylist(src, schema=schema.SAMPLES))
    if tables:
        t = pa.concat_tables(tables).combine_chunks()
        t = pa.Table.from_arrays(t.columns, schema=schema.SAMPLES)
    else:
        t = pa.Table.from_pylist([], schema=schema.SAMPLES)
    _write_parquet(storage.join(out, "shards", f"part-{n:05d}.parquet"), t)
    _write_parquet(storage.join(out, "qa", f"part-{n:05d}.parquet"), pa.Table.from_pylist(qa, schema=schema.QA))
    _write_parquet(storage.join(out, "rejected", f"part-{n:05d}.parquet"),
                   pa.Table.from_pylist(rejected, schema=REJECTED))
    return t.num_rows


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
    """Buffers document results in plan order and commits them as numbered parts. `out`: a local folder or an
    fsspec URL. `run_part(out, n, shards, qa, rejected)` writes a part's files (default: `write_part` in this
    process; a Ray build passes one that runs it as a Ray task)."""

    def __init__(self, out, run_part: Callable | None = None):
        self.out = storage.normalize(out) if not isinstance(out, Path) else str(out)
        self.run_part = run_part or write_part
        self.held: set[str] = set()   # staged files kept past a commit: rows in the build's reserve (quota.py)
        for d in (*TABLES, PROGRESS, STAGING):
            storage.makedirs(storage.join(self.out, d))
        self.progress = self._recover()
        self._reset()

    def _reset(self) -> None:
        self.shards: list = []        # lists of rows, or (staged url, kept row indices)
        self.meta: list[dict] = []    # per buffered sample: n_tokens (and task, qa_id, image_bytes)
        self.qa: list[dict] = []
        self.rejected: list[dict] = []
        self.staged: list[str] = []   # staged files of the buffered documents (deleted once committed)
        self.buffered_bytes = 0

    @property
    def buf(self) -> dict[str, list]:
        return {"shards": self.meta, "qa": self.qa, "rejected": self.rejected}

    def _recover(self) -> Progress:
        records = []
        prog = storage.join(self.out, PROGRESS)
        have = set(storage.listdir(prog, ".json"))
        for n in range(10**6):
            name = f"part-{n:05d}.json"
            if name not in have:
                break
            records.append(json.loads(storage.read_text(storage.join(prog, name))))
        n = len(records)
        for d in (*TABLES, PROGRESS):
            for name in storage.listdir(storage.join(self.out, d)):
                stem = name.split(".")[0]
                if name.endswith(".tmp") or (stem.startswith("part-") and stem[5:].isdigit() and int(stem[5:]) >= n):
                    storage.remove(storage.join(self.out, d, name))
        self.held = set(records[-1].get("extra", {}).get("held", [])) if records else set()
        self.clear_staging()
        if not records:
            return Progress()
        last = records[-1]
        return Progress(parts=n, docs_done=last["docs_done"], samples=last["samples"], tokens=last["tokens"],
                        finished=last.get("finished", False),
                        deferred={int(k): v for k, v in last.get("deferred", {}).items()},
                        extra=last.get("extra", {}))

    def clear_staging(self) -> None:
        """Delete every staged file (of documents not committed: a stopped or killed run, a deferred document)."""
        d = storage.join(self.out, STAGING)
        for name in storage.listdir(d):
            if storage.join(d, name) not in self.held:
                storage.remove(storage.join(d, name))

    @property
    def buffered_samples(self) -> int:
        return len(self.meta)

    def full(self, shard_size: int) -> bool:
        """Time to commit: `shard_size` samples or MAX_PART_BYTES of images buffered (both content-determined, so
        part boundaries, and so the bytes of every part, are the same in every run)."""
        return self.buffered_samples >= shard_size or self.buffered_bytes >= MAX_PART_BYTES

    def add(self, samples: list[dict], qa: list[dict], rejected: list[dict]) -> None:
        """Rows held in this process (images included)."""
        self.shards.append(list(samples))
        self.meta.extend({"n_tokens": r["n_tokens"]} for r in samples)
        self.buffered_bytes += sum(len(b) for r in samples for b in (r.get("images") or ()))
        self.qa.extend(qa)
        self.rejected.extend(rejected)

    def add_staged(self, url: str | None, kept: list[dict], indices: list[int], qa: list[dict],
                   rejected: list[dict]) -> None:
        """A document whose sample rows a worker staged at `url`: `kept` (light rows: n_tokens, image_bytes) are
        rows `indices` of that file, in order."""
        if url is not None:
            self.staged.append(url)
            if indices:
                self.shards.append((url, list(indices)))
        self.meta.extend(kept)
        self.buffered_bytes += sum(r["image_bytes"] for r in kept)
        self.qa.extend(qa)
        self.rejected.extend(rejected)

    def commit(self, docs_done: int, finished: bool = False, deferred: dict[int, str] | None = None) -> None:
        """Write the buffered rows as the next part, then its completion record, then delete the staged files of
        its documents. `deferred`: planned documents before `docs_done` that are not done (a failed generation),
        with the reason; None keeps the current ones."""
        deferred = dict(self.progress.deferred if deferred is None else deferred)
        if (docs_done == self.progress.docs_done and not (self.meta or self.qa or self.rejected) and not finished
                and deferred == self.progress.deferred):
            self._remove_staged()
            return
        n = self.progress.parts
        self.run_part(self.out, n, self.shards, self.qa, self.rejected)
        p = self.progress
        p.parts, p.docs_done, p.finished, p.deferred = n + 1, docs_done, finished, deferred
        p.samples += len(self.meta)
        p.tokens += sum(r["n_tokens"] for r in self.meta)
        storage.write_text(storage.join(self.out, PROGRESS, f"part-{n:05d}.json"), json.dumps(
            {"part": n, "docs_done": docs_done, "samples": p.samples, "tokens": p.tokens, "finished": finished,
             "deferred": {str(k): v for k, v in sorted(deferred.items())}, "extra": p.extra}))
        keep = self._remove_staged()
        self._reset()
        self.staged = keep

    def _remove_staged(self) -> list[str]:
        """Delete the staged files of committed documents, except those held; returns the held ones."""
        keep = sorted({u for u in self.staged if u in self.held})
        for url in dict.fromkeys(self.staged):
            if url not in self.held:
                storage.remove(url)
        self.staged = keep
        return keep


def read_table(out, name: str, columns: list[str] | None = None) -> pa.Table:
    """All committed parts of shards/, qa/ or rejected/ as one table (in part order); `out`: a folder or a URL."""
    d = storage.join(out, name)
    files = [f for f in storage.listdir(d, ".parquet") if f.startswith("part-")]
    if not files:
        return TABLES[name].empty_table() if columns is None else pa.table(
            {c: pa.array([], TABLES[name].field(c).type) for c in columns})
    tables = []
    for f in files:
        fs, path = storage.arrow_filesystem(storage.join(d, f))
        tables.append(pq.read_table(path, columns=columns, schema=TABLES[name], filesystem=fs,
                                    use_threads=storage.scan_threads(out)))
    return pa.concat_tables(tables)
