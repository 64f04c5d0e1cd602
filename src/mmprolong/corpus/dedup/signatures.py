"""Stage 1 of distributed dedup: a worker signs the documents of one docs part and writes their band keys.

The worker reads its docs part and, pages file by pages file, only the row groups holding those documents' pages
(doc_id, page, text columns), so it holds one pages file's text at a time, never the corpus. Each signed document
gets a node id (part << 32 | its row in the part's signature file). For each of the LSH bands (the b x r split
datasketch's MinHashLSH picks for the threshold) the band's r hash values are the bucket key; rows (band, key,
node) go to one of P partition files by a hash of the key, so that every document sharing a bucket lands in the
same partition whichever worker signed it (the shuffle).
"""

from __future__ import annotations

import functools
import os
import resource
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pyarrow as pa

from ... import storage
from . import workdir
from .minhash import minhash


@dataclass(frozen=True)
class SignTask:
    store: str          # store URL
    docs_file: str      # name inside STORE/docs
    part: int           # 1.. (0 is the eval documents)
    work: str           # the run's folder (workdir.py)
    num_perm: int
    bands: int
    rows: int
    partitions: int


KNOWN_SHAPES = {(0.8, 128): (9, 13)}   # datasketch's choice for the defaults (its search takes ~1 s; tested)


@functools.cache
def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) of datasketch's MinHashLSH at this threshold: the candidates are the same pairs."""
    if (float(threshold), int(num_perm)) in KNOWN_SHAPES:
        return KNOWN_SHAPES[float(threshold), int(num_perm)]
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def peak_rss() -> int:
    """This process's peak RSS in bytes (VmHWM: of its own address space; ru_maxrss would carry the peak of the
    process it was exec'd from)."""
    from ...procstat import status_bytes

    try:
        return status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_stats(t0: float, **counts) -> dict:
    """What a task reports back: its counts, seconds, and its process (pid, peak RSS in bytes, CPU seconds so
    far)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {**counts, "seconds": time.monotonic() - t0, "pid": os.getpid(), "host": os.uname().nodename,
            "peak_rss": peak_rss(), "process_cpu_s": ru.ru_utime + ru.ru_stime}


def sign_part(task: SignTask) -> dict:
    """Sign one docs part and write its bucket files, then its signature file (which marks the part done)."""
    t0 = time.monotonic()
    docs = storage.parquet_file(storage.join(task.store, "docs", task.docs_file)).read(
        columns=["doc_id", "n_pages", "status", "pages_file", "page_row_groups"]).to_pylist()
    docs = [d for d in docs if d["status"] == "ok"]
    n = write_part(task.work, task.part, _texts(task.store, docs), task.num_perm, task.bands, task.rows,
                   task.partitions)
    return worker_stats(t0, docs=len(docs), signed=n)


def _texts(store_url: str, docs: list[dict]) -> Iterable[tuple[str, int, list[str]]]:
    """(doc_id, n_pages, page texts in page order) of these docs rows, one pages file read at a time (a docs row
    names the one pages file that holds all its pages); rows without a location (stores written before those
    columns) are read last through the store's own index."""
    from ..neardup import page_texts

    pages_dir = storage.join(store_url, "pages")
    by_file: dict[str, list[dict]] = {}
    unlocated = []
    for d in docs:
        if d["pages_file"] and d["page_row_groups"] is not None:
            by_file.setdefault(d["pages_file"], []).append(d)
        else:
            unlocated.append(d)
    for f, rows in sorted(by_file.items()):
        rgs = sorted({rg for d in rows for rg in d["page_row_groups"]})
        texts = page_texts(storage.parquet_file(storage.join(pages_dir, f)).read_row_groups(
            rgs, columns=["doc_id", "page", "text"]))
        for d in rows:
            yield d["doc_id"], int(d["n_pages"]), texts.get(d["doc_id"], [])
    if unlocated:
        from ..store import PageStore

        texts = page_texts(PageStore(store_url).read_pages([d["doc_id"] for d in unlocated],
                                                           ["doc_id", "page", "text"]))
        for d in unlocated:
            yield d["doc_id"], int(d["n_pages"]), texts.get(d["doc_id"], [])


def write_part(work: str, part: int, docs: Iterable[tuple[str, int, list[str]]], num_perm: int, bands: int,
               rows: int, partitions: int, seen: set[str] | None = None) -> int:
    """Sign `docs` ((doc_id, n_pages, texts)), write part `part`'s bucket files and signature file; return how many
    were signed (documents whose text layer is too thin have no signature). With `seen`, a doc_id already signed is
    skipped (the eval documents, given twice)."""
    from ..neardup import shingles

    ids, pages, sigs = [], [], []
    for doc_id, n_pages, texts in docs:
        if seen is not None and doc_id in seen:
            continue
        sh = shingles(texts)
        if sh is None:
            continue
        if seen is not None:
            seen.add(doc_id)
        ids.append(doc_id)
        pages.append(int(n_pages))
        sigs.append(minhash(sh, num_perm))
    matrix = np.stack(sigs) if sigs else np.zeros((0, num_perm), np.uint32)
    nodes = (np.int64(part) << np.int64(32)) + np.arange(len(ids), dtype=np.int64)
    for p, table in _buckets(matrix, nodes, bands, rows, partitions):
        workdir.commit_parquet(table, workdir.bucket_file(work, p, part))
    sig = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.uint32()), num_perm)
    workdir.commit_parquet(pa.table({"node": pa.array(nodes, pa.int64()), "doc_id": pa.array(ids, pa.string()),
                                    "n_pages": pa.array(pages, pa.int32()), "sig": sig}),
                          workdir.signature_file(work, part))
    return len(ids)


def _buckets(matrix: np.ndarray, nodes: np.ndarray, bands: int, rows: int, partitions: int):
    """(partition, table of band, key, node) for every partition that gets rows."""
    n = len(nodes)
    if n == 0:
        return
    band_col, key_col, node_col, part_col = [], [], [], []
    for b in range(bands):
        block = np.ascontiguousarray(matrix[:, b * rows:(b + 1) * rows])
        band_col.append(np.full(n, b, np.uint16))
        key_col.append(block)
        node_col.append(nodes)
        part_col.append((block[:, 0].astype(np.uint64) * np.uint64(2654435761) + np.uint64(b)) % np.uint64(partitions))
    band_a, key_a, node_a, part_a = (np.concatenate(x) for x in (band_col, key_col, node_col, part_col))
    order = np.argsort(part_a, kind="stable")
    bounds = np.searchsorted(part_a[order], np.arange(partitions + 1))
    width = 4 * rows
    for p in range(partitions):
        idx = order[bounds[p]:bounds[p + 1]]
        if len(idx) == 0:
            continue
        keys = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(idx),
                                                    [None, pa.py_buffer(np.ascontiguousarray(key_a[idx]).tobytes())])
        yield p, pa.table({"band": pa.array(band_a[idx], pa.uint16()), "key": keys,
                           "node": pa.array(node_a[idx], pa.int64())})
