"""Stage 2 of distributed dedup: one task per partition finds the verified pairs among its buckets.

A partition's bucket files (from every stage-1 worker) hold every (band, key) that hashes to it, so documents that
share a band key meet here whichever worker signed them. Each bucket with two or more documents yields candidate
pairs, verified as the one-process code does: the estimated Jaccard similarity (the share of equal MinHash values)
at least the threshold. Only the signatures of documents in such buckets are read, from their parts' signature files.
Memory: one partition's band keys as numpy arrays (about 1/P of b x 70 bytes per document) plus its candidates'
signatures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ... import storage
from . import workdir
from .signatures import worker_stats

EDGES = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("sim", pa.float64())])


@dataclass(frozen=True)
class PairTask:
    work: str
    partition: int
    threshold: float
    num_perm: int


def find_pairs(task: PairTask) -> dict:
    """Write edges/p-PPPP.parquet: the partition's verified pairs (a < b, node ids), each once."""
    t0 = time.monotonic()
    rows, groups = _buckets(workdir.bucket_dir(task.work, task.partition))
    sigs = _signatures(task.work, np.unique(np.concatenate(groups)) if groups else np.zeros(0, np.int64))
    a_out, b_out, s_out = [], [], []
    for nodes in groups:
        nodes = np.unique(nodes)
        mat = np.stack([sigs[int(x)] for x in nodes])
        for i in range(len(nodes) - 1):
            sim = np.count_nonzero(mat[i + 1:] == mat[i], axis=1) / float(task.num_perm)
            hit = np.nonzero(sim >= task.threshold)[0]
            a_out.append(np.full(len(hit), nodes[i], np.int64))
            b_out.append(nodes[i + 1 + hit])
            s_out.append(sim[hit])
    a, b, s = ((np.concatenate(x) if x else np.zeros(0, t)) for x, t in
               ((a_out, np.int64), (b_out, np.int64), (s_out, np.float64)))
    if len(a):   # a pair sharing several bands of this partition once
        _, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
        a, b, s = a[first], b[first], s[first]
    workdir.commit_parquet(pa.table({"a": a, "b": b, "sim": s}, schema=EDGES), workdir.edges_file(task.work,
                                                                                                  task.partition))
    return worker_stats(t0, band_rows=rows, buckets=len(groups), edges=len(a))


def _buckets(d: str) -> tuple[int, list[np.ndarray]]:
    """(band rows read, the node ids of every bucket (band, key) holding two or more) of one partition's bucket
    files. The rows are held as numpy arrays (about 70 bytes a row: the key bytes, band, node, a 64-bit hash and
    the sort order), grouped by sorting the hash and checking the keys of equal hashes byte for byte; Arrow's
    group_by with list aggregation held about ten times that (350 MB for a partition of 281K rows at 1M
    documents)."""
    bands, keys, nodes = [], [], []
    for n in storage.listdir(d, ".parquet"):
        t = storage.parquet_file(storage.join(d, n)).read()
        if not t.num_rows:
            continue
        k = t.column("key").combine_chunks()
        width = k.type.byte_width
        keys.append(np.frombuffer(k.buffers()[1], np.uint8, count=len(k) * width,
                                  offset=k.offset * width).reshape(len(k), width).copy())
        bands.append(t.column("band").to_numpy())
        nodes.append(t.column("node").to_numpy())
        del t, k
    if not keys:
        return 0, []
    band, key, node = np.concatenate(bands), np.concatenate(keys), np.concatenate(nodes)
    del bands, keys, nodes
    h = _key_hash(band, key)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    del h
    cut = np.flatnonzero(hs[1:] != hs[:-1]) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(hs)]])
    groups: list[np.ndarray] = []
    for s, e in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
        idx = order[s:e]
        same: dict[bytes, list[int]] = {}
        for i in idx.tolist():    # equal hashes: the same (band, key) unless a collision
            same.setdefault(int(band[i]).to_bytes(2, "little") + key[i].tobytes(), []).append(i)
        groups += [node[np.asarray(v)] for v in same.values() if len(v) > 1]
    return len(band), groups


def _key_hash(band: np.ndarray, key: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's (band, key bytes) (FNV-style over the key's 32-bit words); equal rows hash
    equal, and rows of equal hash are compared byte for byte."""
    words = key.view(np.uint32) if key.shape[1] % 4 == 0 else key
    h = band.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = (h ^ words[:, j].astype(np.uint64)) * np.uint64(0x100000001B3)
    return h


def _signatures(work: str, nodes: np.ndarray) -> dict[int, np.ndarray]:
    """node -> its MinHash values, reading from each part's signature file only the rows asked for."""
    out: dict[int, np.ndarray] = {}
    parts = nodes >> 32
    for part in np.unique(parts):
        want = nodes[parts == part]
        col = storage.parquet_file(workdir.signature_file(work, int(part))).read(columns=["sig"]).column("sig")
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        rows = (want & 0xFFFFFFFF).astype(np.int64)
        taken = col.take(pa.array(rows))
        mat = taken.flatten().to_numpy(zero_copy_only=False).reshape(len(rows), -1)
        out.update(zip(want.tolist(), mat))
    return out
