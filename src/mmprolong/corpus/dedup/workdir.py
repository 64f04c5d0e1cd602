"""Where a dedup run keeps its stage outputs, and how a rerun knows what is done.

STORE/dedup-work/KEY/ holds one run's files; KEY hashes the store's docs part names (a store that gained documents
is another run) and the settings. Every file is committed whole (storage.write_parquet: tmp + rename locally, one
object on object storage), and each unit's last file marks it done:

    signatures/part-NNNNN.parquet   one per docs part (part 0: the eval documents), written after that part's
    buckets/p-PPPP/part-NNNNN.parquet  band keys, one file per (partition, part)
    edges/p-PPPP.parquet            verified pairs of one partition

A rerun skips every part whose signature file exists and every partition whose edges file exists; a finished run
writes STORE/near_duplicates.parquet and removes its folder. Work files are committed by rename without fsync
(`commit_parquet`): a killed process never leaves a partial one, and they can all be recomputed; only the result is
written durably.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

from ... import storage

WORK = "dedup-work"


def docs_parts(store_url: str) -> list[str]:
    """The store's docs part names, sorted (ok documents' rows are never rewritten, so names fingerprint them)."""
    return storage.listdir(storage.join(store_url, "docs"), ".parquet")


def fingerprint(store_url: str) -> str:
    return hashlib.sha256("\n".join(docs_parts(store_url)).encode()).hexdigest()[:32]


def settings(threshold: float, num_perm: int, against: list[str]) -> dict:
    """What the records depend on besides the store; eval paths made absolute, so that a later build run from
    another folder finds them again."""
    return {"threshold": float(threshold), "num_perm": int(num_perm),
            "against": sorted(os.path.abspath(a) for a in map(str, against))}


def run_dir(store_url: str, fp: str, sett: dict, partitions: int) -> str:
    key = hashlib.sha256(json.dumps([fp, sett, partitions], sort_keys=True).encode()).hexdigest()[:16]
    return storage.join(store_url, WORK, key)


def signature_file(work: str, part: int) -> str:
    return storage.join(work, "signatures", f"part-{part:05d}.parquet")


def bucket_dir(work: str, partition: int) -> str:
    return storage.join(work, "buckets", f"p-{partition:04d}")


def bucket_file(work: str, partition: int, part: int) -> str:
    return storage.join(bucket_dir(work, partition), f"part-{part:05d}.parquet")


def edges_file(work: str, partition: int) -> str:
    return storage.join(work, "edges", f"p-{partition:04d}.parquet")


def commit_parquet(table, url: str) -> None:
    """Write a work file whole: tmp + rename on local disk (no fsync: see the module doc), one object elsewhere."""
    if not storage.is_local(url):
        storage.write_parquet(table, url)
        return
    import pyarrow.parquet as pq

    path = storage.local_path(url)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def remove_tree(url: str) -> None:
    """Delete a folder and everything in it (nothing when it is not there)."""
    if storage.is_local(url):
        shutil.rmtree(storage.local_path(url), ignore_errors=True)
        return
    fs, path = storage.filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def remove_other_runs(store_url: str, keep: str) -> None:
    """Stale runs (another store state or other settings) are of no use to this one."""
    root = storage.join(store_url, WORK)
    for name in storage.listdir(root):
        if storage.join(root, name) != keep:
            remove_tree(storage.join(root, name))
