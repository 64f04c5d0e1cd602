"""Stage 3 of distributed dedup: verified pairs -> groups (connected components) -> the keep rule per group.

The pairs of all partitions (a pair that shares bands in two partitions comes twice) are joined with union-find;
each group is resolved by keep.py's rule, which only looks inside the group, so the records are those of one pass
over the whole corpus. Memory grows with the near-duplicate pairs, not with the corpus: only the grouped documents'
doc_id and page count are read back from the signature files.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from ... import storage
from . import keep, workdir


def read_edges(work: str, partitions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tables = [storage.parquet_file(workdir.edges_file(work, p)).read() for p in range(partitions)]
    t = pa.concat_tables(tables) if tables else pa.table({"a": [], "b": [], "sim": []})
    a, b, s = (t[c].to_numpy() for c in ("a", "b", "sim"))
    if len(a):
        _, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
        a, b, s = a[first], b[first], s[first]
    return a.astype(np.int64), b.astype(np.int64), s.astype(np.float64)


def components(a: np.ndarray, b: np.ndarray) -> dict[int, list[int]]:
    """Connected components of the pairs (union-find with path halving): root -> its nodes."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        groups[find(x)].append(x)
    return dict(groups)


def node_info(work: str, nodes: list[int]) -> dict[int, tuple[str, int, int]]:
    """node -> (doc_id, n_pages, row in its part) for these nodes."""
    arr = np.asarray(sorted(nodes), np.int64)
    out = {}
    parts = arr >> 32
    for part in np.unique(parts):
        want = arr[parts == part]
        rows = (want & 0xFFFFFFFF).astype(np.int64)
        t = storage.parquet_file(workdir.signature_file(work, int(part))).read(columns=["doc_id", "n_pages"])
        t = t.take(pa.array(rows))
        for node, row, d, n in zip(want.tolist(), rows.tolist(), t["doc_id"].to_pylist(), t["n_pages"].to_pylist()):
            out[node] = (d, int(n), row)
    return out


def resolve(work: str, partitions: int):
    """The near-duplicate records (neardup.NearDuplicate) and the number of groups."""
    from ..neardup import NearDuplicate

    a, b, s = read_edges(work, partitions)
    groups = components(a, b)
    info = node_info(work, [x for g in groups.values() for x in g])
    adj: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for x, y, sim in zip(a.tolist(), b.tolist(), s.tolist()):
        adj[x].append((y, sim))
        adj[y].append((x, sim))

    def kind(node: int) -> str:
        return "eval" if node >> 32 == 0 else "pool"

    def rank(node: int) -> tuple:
        d, n, row = info[node]
        return keep.rank(kind(node), n, d, row)

    out = []
    for members in groups.values():
        kept: set[int] = set()
        for node in sorted(members, key=rank):
            if kind(node) == "eval":
                kept.add(node)
                continue
            best = keep.best_kept((rank(o), kind(o), sim, o) for o, sim in adj[node] if o in kept)
            if best is None:
                kept.add(node)
            else:
                out.append(NearDuplicate(info[node][0], info[best[3]][0], best[2], best[1]))
    return sorted(out, key=lambda d: d.doc_id), len(groups)
