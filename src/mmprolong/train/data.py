"""Streaming over training shards: a deterministic sample order per seed, greedy packing by exact length, resume
by one integer.

A run reads a `DataStream`: one source (`data.shards`) or a mixture (`data.sources`, weighted by tokens). Each
source keeps its own ShardIndex, order and position; packing draws the next sample from the source furthest behind
its token share (see `DataStream.next_packs`), so the data state of a run is a few integers.

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

    def __init__(self, files: list[Path], max_length: int, seed: int | tuple[int, ...]):
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
            seed = list(self.seed) if isinstance(self.seed, tuple) else [self.seed]
            rng = np.random.default_rng([*seed, epoch])
            refs: list[RowRef] = []
            toks: list[np.ndarray] = []
            for gi in rng.permutation(len(self.groups)):
                fi, rg, n = self.groups[gi]
                perm = rng.permutation(n)
                refs.extend(RowRef(fi, rg, int(r)) for r in perm)
                toks.append(self._tokens[gi][perm])
            self._cache = {epoch: (refs, np.concatenate(toks))}
        return self._cache[epoch]

    def epoch_tokens(self, epoch: int) -> list[int]:
        """Token counts of an epoch in its order (the same draws as epoch_order, no row references): what packing
        needs, as a plain list for the packing loop."""
        cache = self.__dict__.setdefault("_tok_cache", {})
        if epoch not in cache:
            seed = list(self.seed) if isinstance(self.seed, tuple) else [self.seed]
            rng = np.random.default_rng([*seed, epoch])
            toks = []
            for gi in rng.permutation(len(self.groups)):
                toks.append(self._tokens[gi][rng.permutation(self.groups[gi][2])])
            cache.clear()
            cache[epoch] = np.concatenate(toks).tolist()
        return cache[epoch]

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


@dataclass(frozen=True)
class Item:
    """One sample of a pack: its source, its position in that source's order, its row and exact length."""

    source: int
    position: int
    ref: RowRef
    n_tokens: int


class DataStream:
    """The training data of a run: sources (name, ShardIndex, normalised token weight) packed into sequences.

    State (JSON, saved in checkpoints as the data position): with one source, the index of its next sample (an int,
    as before mixtures existed); with several, {"positions": [...], "tokens": [...]}: each source's next sample and
    the tokens packed from it so far. Packing is a pure function of (state, n_packs), so every rank and every
    resumed run gets the same packs.
    """

    def __init__(self, names: list[str], indexes: list[ShardIndex], weights: list[float]):
        if not indexes or len({len(names), len(indexes), len(weights)}) != 1:
            raise ValueError("a data stream needs one name and weight per source")
        if any(not w > 0 for w in weights):
            raise ValueError(f"source weights must be > 0, got {weights}")
        total = float(sum(weights))
        self.names = list(names)
        self.indexes = list(indexes)
        self.weights = [float(w) / total for w in weights]
        self.readers = [RowReader(ix.files) for ix in indexes]
        self.max_length = indexes[0].max_length

    @classmethod
    def from_config(cls, data) -> "DataStream":
        """From a train.config.DataConfig: `shards` (one source, the old order exactly) or `sources`."""
        mix = data.mixture()
        if not mix:
            raise FileNotFoundError("no training shards: give data.shards or data.sources")
        single = len(mix) == 1 and not data.sources
        indexes = [ShardIndex(find_shards(paths), data.max_length, data.seed if single else (data.seed, k))
                   for k, (_, paths, _) in enumerate(mix)]
        return cls([m[0] for m in mix], indexes, [m[2] for m in mix])

    @classmethod
    def of_index(cls, index: ShardIndex, name: str = "shards") -> "DataStream":
        return cls([name], [index], [1.0])

    @property
    def single(self) -> bool:
        return len(self.indexes) == 1

    def initial_state(self):
        return 0 if self.single else {"positions": [0] * len(self.indexes), "tokens": [0] * len(self.indexes)}

    def restore(self, state):
        """A state read back from a checkpoint, checked against this stream's sources."""
        if self.single and isinstance(state, int):
            return state
        if (not self.single and isinstance(state, dict) and len(state.get("positions", [])) == len(self.indexes)
                and len(state.get("tokens", [])) == len(self.indexes)):
            return {"positions": [int(x) for x in state["positions"]], "tokens": [int(x) for x in state["tokens"]]}
        raise ValueError(f"the checkpoint's data position {state!r} does not fit data sources {self.names}; "
                         "resume with the same data section or use a new output_dir")

    def _unpack(self, state) -> tuple[list[int], list[int]]:
        if self.single:
            return [int(state)], [0]
        return list(state["positions"]), list(state["tokens"])

    def _pack(self, pos: list[int], tok: list[int]):
        return pos[0] if self.single else {"positions": pos, "tokens": tok}

    def next_packs(self, state, n_packs: int) -> tuple[list[list[Item]], object]:
        """`n_packs` packs of whole samples (each at most max_length tokens) from `state`, and the state after them.

        The next sample comes from the source whose packed tokens, with that sample, are lowest relative to its
        weight (weighted fair queueing over tokens: every source stays within about one sample of its share); when
        that sample does not fit the current pack, the next source in that order whose sample fits is taken; when
        none fits, the pack is closed. A sample is never cut and never skipped: one that did not fit stays next in
        its source. With one source this is plain greedy packing in order (`next_packs`).
        """
        pos, tok = self._unpack(state)
        picks, _ = self._schedule(pos, tok, n_packs, record=True)
        packs = []
        for pk in picks:
            items = []
            for i, p in pk:
                ref, n = self.indexes[i].at(p)
                items.append(Item(i, p, ref, n))
            packs.append(items)
        return packs, self._pack(pos, tok)

    def _schedule(self, pos: list[int], tok: list[int], n_packs: int, record: bool):
        """The packing loop over token counts alone (pos and tok advanced in place): [(source, position)] per pack
        when `record`, and the tokens packed."""
        k, w, L = len(self.indexes), self.weights, self.max_length
        sizes = [ix.epoch_size for ix in self.indexes]
        lists = [self.indexes[i].epoch_tokens(pos[i] // sizes[i]) for i in range(k)]
        off = [pos[i] % sizes[i] for i in range(k)]
        nxt = [lists[i][off[i]] for i in range(k)]
        packs: list[list[tuple[int, int]]] = []
        cur: list[tuple[int, int]] = []
        used = spent = done = 0
        while done < n_packs:
            best, best_key = -1, 0.0
            for i in range(k):
                n = nxt[i]
                if used + n <= L:
                    key = (tok[i] + n) / w[i]
                    if best < 0 or key < best_key:
                        best, best_key = i, key
            if best < 0:
                if record:
                    packs.append(cur)
                    cur = []
                used = 0
                done += 1
                continue
            n = nxt[best]
            if record:
                cur.append((best, pos[best]))
            used += n
            spent += n
            tok[best] += n
            pos[best] += 1
            off[best] += 1
            if off[best] == sizes[best]:
                lists[best] = self.indexes[best].epoch_tokens(pos[best] // sizes[best])
                off[best] = 0
            nxt[best] = lists[best][off[best]]
        return packs, spent

    def row(self, item: Item) -> dict:
        return self.readers[item.source].row(item.ref)

    def tokens_by_source(self, packs: list[list[Item]]) -> dict[str, int]:
        out = dict.fromkeys(self.names, 0)
        for pk in packs:
            for it in pk:
                out[self.names[it.source]] += it.n_tokens
        return out

    def epochs(self, state) -> dict[str, float]:
        """How many passes over each source the state has made (fractional)."""
        pos, _ = self._unpack(state)
        return {n: p / ix.epoch_size for n, p, ix in zip(self.names, pos, self.indexes)}

    def steps_for_tokens(self, sequences_per_step: int, total_tokens: int) -> int:
        """The first step count at which the packs hold `total_tokens` (packs are never quite full)."""
        pos, tok = self._unpack(self.initial_state())
        steps = spent = 0
        while spent < total_tokens:
            spent += self._schedule(pos, tok, sequences_per_step, record=False)[1]
            steps += 1
        return max(1, steps)
