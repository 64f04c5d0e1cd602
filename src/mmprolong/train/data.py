"""Streaming over training shards: a deterministic sample order per seed, greedy packing by exact length, resume
by one integer.

The order is a block shuffle (row groups shuffled, rows shuffled within each row group, a new permutation per
epoch), so reading stays sequential within a row group. Packing needs only the shards' exact `n_tokens` column;
a pack is a list of positions in that order, and the data position of a run is the index of the next sample to
pack. Every rank computes the same packs and loads only the rows of its own.
"""

from __future__ import annotations

import glob
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .. import schema

REQUIRED = ("sample_id", "messages", "images", "max_pixels", "n_tokens")


def find_shards(paths: list[str]) -> list[Path]:
    """Parquet files named by paths, folders (recursively) or globs, sorted for a stable order."""
    out: set[Path] = set()
    for s in paths:
        p = Path(s)
        if p.is_dir():
            out.update(x for x in p.rglob("*.parquet"))
        elif p.is_file():
            out.add(p)
        else:
            hits = [Path(x) for x in glob.glob(s, recursive=True)]
            if not hits:
                raise FileNotFoundError(f"no training shards at {s}")
            out.update(hits)
    files = sorted(out)
    if not files:
        raise FileNotFoundError(f"no .parquet training shards under {paths}")
    return files


@dataclass(frozen=True)
class RowRef:
    file: int
    row_group: int
    row: int  # within the row group


class ShardIndex:
    """Row locations and exact token counts of every sample in a set of shards, and the per-epoch order."""

    def __init__(self, files: list[Path], max_length: int, seed: int):
        self.files = files
        self.seed = seed
        self.max_length = max_length
        groups: list[tuple[int, int, int]] = []  # (file, row_group, n_rows)
        n_tokens: list[np.ndarray] = []
        for fi, f in enumerate(files):
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise ValueError(f"{f}: not a training shard (missing columns {missing}; expected schema.SAMPLES)")
            for rg in range(pf.num_row_groups):
                t = pf.read_row_group(rg, columns=["sample_id", "n_tokens"])
                n = t.column("n_tokens").to_numpy(zero_copy_only=False).astype(np.int64)
                too_long = np.nonzero(n > max_length)[0]
                if len(too_long):
                    sid = t.column("sample_id")[int(too_long[0])].as_py()
                    raise ValueError(f"sample {sid} in {f} has {int(n[too_long[0]])} tokens > max_length "
                                     f"{max_length}; samples are never cut: rebuild shards or raise max_length")
                groups.append((fi, rg, len(n)))
                n_tokens.append(n)
        if not groups or sum(g[2] for g in groups) == 0:
            raise ValueError(f"training shards hold no samples: {[str(f) for f in files]}")
        self.groups = groups
        self._tokens = n_tokens
        self.epoch_size = sum(g[2] for g in groups)
        self._cache: dict[int, tuple[list[RowRef], np.ndarray]] = {}

    def epoch_order(self, epoch: int) -> tuple[list[RowRef], np.ndarray]:
        if epoch not in self._cache:
            rng = np.random.default_rng([self.seed, epoch])
            refs: list[RowRef] = []
            toks: list[np.ndarray] = []
            for gi in rng.permutation(len(self.groups)):
                fi, rg, n = self.groups[gi]
                perm = rng.permutation(n)
                refs.extend(RowRef(fi, rg, int(r)) for r in perm)
                toks.append(self._tokens[gi][perm])
            self._cache = {epoch: (refs, np.concatenate(toks))}
        return self._cache[epoch]

    def at(self, position: int) -> tuple[RowRef, int]:
        """The sample at a global position (epochs concatenated) and its exact token count."""
        refs, toks = self.epoch_order(position // self.epoch_size)
        i = position % self.epoch_size
        return refs[i], int(toks[i])


def next_packs(index: ShardIndex, position: int, n_packs: int, max_length: int) -> tuple[list[list[int]], int]:
    """Greedy packing from `position`: each pack holds consecutive samples whose lengths sum to <= max_length.

    Returns the packs (lists of global positions) and the position after them. Deterministic, so every rank and
    every resumed run gets the same packs.
    """
    packs: list[list[int]] = []
    cur: list[int] = []
    used = 0
    pos = position
    while len(packs) < n_packs:
        _, n = index.at(pos)
        if cur and used + n > max_length:
            packs.append(cur)
            cur, used = [], 0
            continue
        cur.append(pos)
        used += n
        pos += 1
    # the sample that did not fit was not consumed: `pos` already points at it
    return packs, pos - len(cur)


class RowReader:
    """Reads sample rows by reference, keeping a few decoded row groups (the order is row-group local)."""

    def __init__(self, files: list[Path], cache_groups: int = 4):
        self.files = files
        self._files: dict[int, pq.ParquetFile] = {}
        self._groups: OrderedDict[tuple[int, int], list[dict]] = OrderedDict()
        self.cache_groups = cache_groups

    def row(self, ref: RowRef) -> dict:
        key = (ref.file, ref.row_group)
        if key not in self._groups:
            pf = self._files.setdefault(ref.file, pq.ParquetFile(self.files[ref.file]))
            cols = [c for c in schema.SAMPLES.names if c in pf.schema_arrow.names]
            self._groups[key] = pf.read_row_group(ref.row_group, columns=cols).to_pylist()
            while len(self._groups) > self.cache_groups:
                self._groups.popitem(last=False)
        self._groups.move_to_end(key)
        return self._groups[key][ref.row]
