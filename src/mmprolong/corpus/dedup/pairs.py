"""Stage 2 of distributed dedup: one task per partition finds the verified pairs among its buckets.

A partition's bucket files (from every stage-1 worker) hold every (band, key) that hashes to it, so documents that
share a band key meet here whichever worker signed them. Each bucket with two or more documents yields candidate
pairs, verified as the one-process code does: the estimated Jaccard similarity (the share of equal MinHash values)
at least the threshold. Only the signatures of documents in such buckets are read, from their parts' signature files.
Memory: one partition's band keys (about 1/P of b x 62 bytes per document) plus its candidates' signatures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    d = workdir.bucket_dir(task.work, task.partition)
    tables = [storage.parquet_file(storage.join(d, n)).read() for n in storage.listdir(d, ".parquet")]
    rows = sum(t.num_rows for t in tables)
    groups: list[np.ndarray] = []
    if tables:
        g = pa.concat_tables(tables).group_by(["band", "key"]).aggregate([("node", "list"), ("node", "count")])
        del tables
        g = g.filter(pc.greater(g["node_count"], 1))
        groups = [np.asarray(x, np.int64) for x in g["node_list"].to_pylist()]
        del g
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
