"""Near-duplicate detection as separate stages that run on the workers beside the data (local pool or Ray).

    signatures (signatures.py)  one task per docs part: MinHash of each document, band keys written into P
                                hash-partitioned bucket files (the shuffle: a band key always goes to one partition)
    pairs      (pairs.py)       one task per partition: documents sharing a band key, verified by similarity
    clusters   (clusters.py)    on the driver: connected components of the verified pairs, keep rule (keep.py) per
                                component; memory grows with the near-duplicate pairs only
    filter                      the build's planner leaves the recorded documents out (dataset/planner.py)

The records equal those of the one-process reference (`neardup.find_near_duplicates`): same signatures, same LSH
candidates (datasketch's band split for the threshold), same verification, same keep rule. Every stage output is
committed whole and a rerun skips what is done (workdir.py); a finished run is a no-op until the store's docs parts
or the settings change (`is_current`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Iterable

from ... import storage
from . import workdir
from .pairs import PairTask, find_pairs
from .signatures import SignTask, lsh_shape, sign_part, write_part

log = logging.getLogger(__name__)

META_KEY = b"mmprolong.dedup"
PARTITIONS = 32
SMALL_STORE_PARTS = 2   # a store of this many docs parts or fewer is deduplicated in the calling process


def recorded_settings(store_url: str) -> dict | None:
    """The settings and store fingerprint the store's near_duplicates.parquet was made with (None: no file, or one
    written before they were recorded)."""
    from ..neardup import FILE

    path = storage.join(store_url, FILE)
    if not storage.exists(path):
        return None
    meta = storage.parquet_file(path).schema_arrow.metadata or {}
    return json.loads(meta[META_KEY]) if META_KEY in meta else None


def is_current(store_url: str, sett: dict | None = None) -> bool:
    """Whether near_duplicates.parquet was made from the store as it is now (and with `sett`, when given)."""
    rec = recorded_settings(store_url)
    if rec is None or rec.get("fingerprint") != workdir.fingerprint(store_url):
        return False
    return sett is None or all(rec.get(k) == v for k, v in sett.items())


def run_dedup(store_url: str, threshold: float, num_perm: int, against: Iterable[str | Path] = (),
              executor: str = "local", workers: int | None = None, ray_address: str | None = None,
              partitions: int | None = None, force: bool = False, progress: bool = False):
    """Run the stages (skipping what a killed run finished) and write STORE/near_duplicates.parquet.
    A store of SMALL_STORE_PARTS docs parts or fewer is done in this process whatever the executor.
    `partitions`: of the band-key shuffle (default: PARTITIONS, fewer for a store of few docs parts).
    `progress`: a bar per stage (tasks done of all). Returns (records, stats): stats has per-stage seconds and
    tasks and the workers' peak RSS by process."""
    from ..neardup import FILE, SCHEMA, reference_texts
    from ...run import Failure, map_unordered

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    sett = workdir.settings(threshold, num_perm, [str(a) for a in against])
    against = sett["against"]
    fp = workdir.fingerprint(store_url)
    stats: dict = {"stages": {}, "workers": {}, "executor": executor}
    if not force and is_current(store_url, sett):
        from ..neardup import read_near_duplicates

        log.debug("%s: near-duplicates are up to date (same docs parts and settings)", store_url)
        stats["up_to_date"] = True
        return sorted(read_near_duplicates(store_url).values(), key=lambda d: d.doc_id), stats
    parts = workdir.docs_parts(store_url)
    if storage.protocol(store_url) == "memory" or len(parts) <= SMALL_STORE_PARTS:
        # workers in other processes cannot see memory://; for a store of a part or two, starting workers costs
        # more than the work
        executor, workers = "threads", 1
    partitions = partitions or min(PARTITIONS, 2 * len(parts) + 1)
    if partitions < 1:
        raise ValueError(f"partitions: must be >= 1, got {partitions}")
    work = workdir.run_dir(store_url, fp, sett, partitions)
    workdir.remove_other_runs(store_url, work)
    bands, rows = lsh_shape(threshold, num_perm)

    def stage(name: str, fn, items: list) -> None:
        t0 = time.monotonic()
        failed = []
        done = 0
        results = map_unordered(fn, items, executor=executor, workers=workers, ray_address=ray_address) if items \
            else ()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn(f"dedup {name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      disable=not progress) as bar:
            task = bar.add_task(name, total=len(items))
            for item, out in results:
                bar.advance(task)
                if isinstance(out, Failure):
                    failed.append(f"{item}: {out}")
                    continue
                done += 1
                w = stats["workers"].setdefault((out["host"], out["pid"]), {"peak_rss": 0, "tasks": 0, "cpu_s": 0.0})
                w["peak_rss"] = max(w["peak_rss"], out["peak_rss"])
                w["cpu_s"] = max(w["cpu_s"], out["process_cpu_s"])
                w["tasks"] += 1
        stats["stages"][name] = {"seconds": time.monotonic() - t0, "tasks": len(items), "skipped": 0}
        log.debug("dedup %s: %d tasks in %.1f s", name, len(items), time.monotonic() - t0)
        if failed:
            raise RuntimeError(f"dedup {name}: {len(failed)} of {len(items)} tasks failed (run again to resume): "
                               + "; ".join(failed[:3]))

    for d in [storage.join(work, "signatures"), storage.join(work, "edges"),
              *(workdir.bucket_dir(work, p) for p in range(partitions))]:
        storage.makedirs(d)
    if not storage.exists(workdir.signature_file(work, 0)):   # part 0: the eval documents, signed here
        write_part(work, 0, ((d, 0, t) for d, t in reference_texts(against)), num_perm, bands, rows, partitions,
                   seen=set())
    todo = [SignTask(store_url, name, k, work, num_perm, bands, rows, partitions)
            for k, name in enumerate(parts, 1) if not storage.exists(workdir.signature_file(work, k))]
    stage("signatures", sign_part, todo)
    stats["stages"]["signatures"]["skipped"] = len(parts) - len(todo)
    todo = [PairTask(work, p, threshold, num_perm) for p in range(partitions)
            if not storage.exists(workdir.edges_file(work, p))]
    stage("pairs", find_pairs, todo)
    stats["stages"]["pairs"]["skipped"] = partitions - len(todo)
    t0 = time.monotonic()
    from .clusters import resolve

    found, n_groups = resolve(work, partitions)
    import pyarrow as pa

    table = pa.Table.from_pylist([d.__dict__ for d in found], schema=SCHEMA)
    meta = {**sett, "fingerprint": fp, "docs_parts": len(parts), "groups": n_groups}
    storage.write_parquet(table.replace_schema_metadata({META_KEY: json.dumps(meta)}), storage.join(store_url, FILE))
    workdir.remove_tree(storage.join(store_url, workdir.WORK))
    stats["stages"]["clusters"] = {"seconds": time.monotonic() - t0, "tasks": 1, "skipped": 0, "groups": n_groups}
    log.debug("%s: %d near-duplicate documents (%d of eval documents) in %d groups", store_url, len(found),
             sum(d.kind == "eval" for d in found), n_groups)
    return found, stats


def ensure_dedup(store_url: str, executor: str = "local", workers: int | None = None,
                 ray_address: str | None = None, progress: bool = False) -> dict:
    """Before a build: dedup the store unless its near_duplicates.parquet is current, with the settings that file
    was made with (eval documents included), else the defaults. Returns {"ran": bool, "settings": ...}."""
    from ..neardup import FILE, NUM_PERM, THRESHOLD

    if is_current(store_url):
        return {"ran": False, "settings": recorded_settings(store_url)}
    rec = recorded_settings(store_url) or {}
    if not rec and storage.exists(storage.join(store_url, FILE)):
        log.warning("%s: %s was written before dedup recorded the store state it was made from; it is used as it "
                    "is (run `mmprolong dedup STORE --force` to refresh it)", store_url, FILE)
        return {"ran": False, "settings": None}
    threshold, num_perm = rec.get("threshold", THRESHOLD), rec.get("num_perm", NUM_PERM)
    against = rec.get("against", [])
    log.debug("%s: %s; running dedup (threshold %s, %d permutations%s)", store_url,
             "the store changed since its dedup" if rec else "never deduplicated", threshold, num_perm,
             f", against {len(against)} eval paths" if against else "")
    found, stats = run_dedup(store_url, threshold, num_perm, against, executor=executor, workers=workers,
                             ray_address=ray_address, progress=progress)
    return {"ran": True, "settings": recorded_settings(store_url), "found": len(found)}


__all__ = ["run_dedup", "ensure_dedup", "is_current", "recorded_settings", "PARTITIONS"]
