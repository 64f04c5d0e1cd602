"""Distributed dedup (corpus/dedup/): the same records as the one-process reference on a store with planted
near-duplicates (a local pool and a real 2-node Ray cluster), resume after the driver is killed mid-run, and the
build's hook (dedup first, or `--no-dedup` said so)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mmprolong.cli.main import main
from mmprolong.corpus.dedup import is_current, recorded_settings, run_dedup, workdir
from mmprolong.corpus.dedup.minhash import minhash
from mmprolong.corpus.dedup.signatures import KNOWN_SHAPES, lsh_shape
from mmprolong.corpus.neardup import FILE, read_near_duplicates, reference_dedup, shingles, signature
from mmprolong.corpus.writer import StoreWriter

WORDS = ("valve pump sensor cable module firmware reset signal voltage bracket filter gasket relay panel switch "
         "router socket mount lever spring housing screen battery charger adapter").split()


def _page(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(60))


def _doc_row(doc_id: str, n: int) -> dict:
    return {"doc_id": doc_id, "source": f"{doc_id}.pdf", "n_pages": n, "title": doc_id, "sections": [],
            "sections_from": "none", "status": "ok", "error": "", "file_bytes": 1, "dpi": 72, "seconds": 0.0}


def write_planted_store(root: Path, n_other: int = 30, flush_docs: int = 6) -> tuple[Path, list[str]]:
    """A store written through StoreWriter (several docs parts) with planted near-duplicates: copies with a page
    changed, an exact copy of the same length (the doc_id breaks the tie), a chain a~b~c whose ends differ (c is
    kept: its only kept-side neighbour b is a duplicate), a doc with no text layer, and unrelated documents.
    Returns the store and the pages of the document `eval-src` that the eval store copies."""
    rng = random.Random(7)
    base = [_page(rng) for _ in range(30)]
    other = [_page(rng) for _ in range(6)]
    docs = {
        "orig": base + other[:1],                           # 31 pages: kept
        "edit1": base[:29] + other[1:2],                    # a page changed
        "edit2": base[:28] + other[2:4],
        "copy-b": base[:29] + other[1:2],                   # same as edit1: ties with it on pages and similarity
        "chain-a": [_page(rng) for _ in range(31)],
    }
    docs["chain-b"] = docs["chain-a"][:28] + [_page(rng) for _ in range(2)]
    docs["chain-c"] = docs["chain-b"][:26] + docs["chain-b"][28:] + [_page(rng) for _ in range(2)]
    docs["eval-src"] = [_page(rng) for _ in range(12)]
    docs["near-eval"] = docs["eval-src"][:11] + [_page(rng)]
    docs["blank"] = ["" for _ in range(5)]
    for i in range(n_other):
        docs[f"other-{i:02d}"] = [_page(rng) for _ in range(rng.randint(3, 9))]
    w = StoreWriter(root, flush_docs=flush_docs)
    for doc_id in sorted(docs, key=lambda d: random.Random(d).random()):   # not sorted by doc_id or length
        if doc_id == "eval-src":
            continue
        pages = [{"doc_id": doc_id, "page": p, "width": 612.0, "height": 792.0, "image": b"", "image_width": 1,
                  "image_height": 1, "text": t, "text_source": "layer"} for p, t in enumerate(docs[doc_id])]
        w.add(_doc_row(doc_id, len(pages)), pages)
    w.close()
    return root, docs["eval-src"]


def write_eval_store(root: Path, pages: list[str]) -> Path:
    w = StoreWriter(root)
    w.add(_doc_row("eval-doc", len(pages)), [
        {"doc_id": "eval-doc", "page": p, "width": 612.0, "height": 792.0, "image": b"", "image_width": 1,
         "image_height": 1, "text": t, "text_source": "layer"} for p, t in enumerate(pages)])
    w.close()
    return root


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("planted")
    store, eval_pages = write_planted_store(root / "store")
    return store, write_eval_store(root / "eval", eval_pages)


def records(found) -> list[tuple]:
    return [(d.doc_id, d.kept_doc_id, d.similarity, d.kind) for d in found]


@pytest.fixture(scope="module")
def reference(planted) -> list[tuple]:
    store, evals = planted
    return records(reference_dedup(store, against=[evals]))


def test_the_reference_records_the_planted_near_duplicates(planted, reference):
    store, _ = planted
    assert len(workdir.docs_parts(str(store))) >= 5
    got = {d: (k, kind) for d, k, _, kind in reference}
    assert got == {"edit1": ("orig", "pool"), "edit2": ("orig", "pool"), "copy-b": ("orig", "pool"),
                   "chain-b": ("chain-a", "pool"), "near-eval": ("eval-doc", "eval")}   # chain-c kept


def test_numpy_minhash_and_band_split_equal_datasketch():
    from datasketch import MinHashLSH

    texts = [_page(random.Random(s)) * 5 for s in range(3)]
    for t in texts:
        assert np.array_equal(minhash(shingles([t]), 128), signature([t]).hashvalues.astype(np.uint32))
    for (threshold, num_perm), shape in KNOWN_SHAPES.items():
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert shape == (lsh.b, lsh.r)
    assert lsh_shape(0.7, 64) == (MinHashLSH(threshold=0.7, num_perm=64).b, MinHashLSH(threshold=0.7, num_perm=64).r)


def test_local_pool_equals_the_reference_whatever_the_partitions(planted, reference, tmp_path):
    store, evals = planted
    for executor, partitions, workers in (("threads", 1, 1), ("local", 7, 2)):
        found, stats = run_dedup(str(store), 0.8, 128, [evals], executor=executor, workers=workers,
                                 partitions=partitions, force=True)
        assert records(found) == reference
        assert records(sorted(read_near_duplicates(store).values(), key=lambda d: d.doc_id)) == reference
        assert stats["stages"]["pairs"]["tasks"] == partitions
    assert all(pid != os.getpid() for _, pid in stats["workers"])   # the local pool's processes did the work
    assert not (store / workdir.WORK).exists()      # a finished run leaves no work files
    assert is_current(str(store)) and recorded_settings(str(store))["against"] == [str(evals)]
    again, stats = run_dedup(str(store), 0.8, 128, [evals])
    assert stats.get("up_to_date") and records(again) == reference


@pytest.mark.slow
def test_a_ray_cluster_of_two_nodes_equals_the_reference(planted, reference, tmp_path):
    import shutil

    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    store, evals = planted
    copy = Path(shutil.copytree(store, tmp_path / "store"))
    (copy / FILE).unlink(missing_ok=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
            found, stats = run_dedup(str(copy), 0.8, 128, [evals], executor="ray", partitions=4)
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
    assert records(found) == reference
    assert stats["executor"] == "ray" and stats["stages"]["signatures"]["tasks"] >= 5
    assert stats["workers"] and all(pid != os.getpid() for _, pid in stats["workers"])   # ran in Ray workers


def test_a_killed_run_resumes_from_its_committed_stage_outputs(tmp_path, reference, planted):
    """SIGKILL the `mmprolong dedup` driver once signature parts are committed; the rerun skips them and gives the
    reference records."""
    src, evals = planted
    import shutil

    store = Path(shutil.copytree(src, tmp_path / "store"))
    (store / FILE).unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                         os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "mmprolong.cli.main", "dedup", str(store), "--against",
                             str(evals), "--workers", "1", "--partitions", "16", "--quiet"], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((store / workdir.WORK).glob("*/signatures/part-0000[1-9].parquet")):
        assert proc.poll() is None and time.monotonic() < deadline, "dedup ended before it could be killed"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (store / FILE).exists()
    done = len(list((store / workdir.WORK).glob("*/signatures/part-*.parquet"))) - 1   # part 0: the eval documents
    assert done >= 1
    found, stats = run_dedup(str(store), 0.8, 128, [evals], executor="threads", workers=1, partitions=16)
    assert stats["stages"]["signatures"]["skipped"] >= done
    assert records(found) == reference


def test_build_runs_dedup_first_or_says_it_is_off(tmp_path, capsys):
    from mmprolong.corpus.store import PageStore
    from mmprolong.dataset.build import build, deduplicate
    from mmprolong.recipe import parse_recipe

    store, _ = write_planted_store(tmp_path / "store", n_other=4, flush_docs=100)
    raw = {"name": "t", "max_length": 4096, "max_pixels": 200_704,
           "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 64},
           "segment": {"min_pages": 1, "max_pages": 4}, "per_document": 1, "budget_tokens": 3000, "shard_size": 3}
    recipe = parse_recipe(raw)
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    # the planted documents hold no facts the rules generator asks about: the build keeps nothing and says so with
    # exit 1 (an error, as in `eval run`); what is checked here is that dedup was off and reported so
    assert main(["build", "--recipe", str(recipe_file), "--store", str(store), "--out", str(tmp_path / "off"),
                 "--executor", "threads", "--no-report", "--no-dedup"]) == 1
    err = capsys.readouterr().err
    assert "dedup off (--no-dedup)" in err and "build kept no instances" in err and not (store / FILE).exists()
    off = json.loads((tmp_path / "off" / "manifest.json").read_text())["summary"]
    assert off["dedup"] == "off" and off["near_duplicates_removed"] == 0
    s = build(recipe, store, tmp_path / "on", executor="threads", progress=False, report=True)
    assert s.dedup == "ran" and (store / FILE).exists()
    assert s.near_duplicates_removed == len(read_near_duplicates(store)) == 4   # no eval documents given here
    assert "removed 4 documents" in (tmp_path / "on" / "report" / "report.md").read_text()
    assert deduplicate(PageStore(store), "threads", None, None) == "current"     # the next build does not redo it


def test_a_partitions_buckets_are_grouped_exactly(tmp_path, monkeypatch):
    """The pairs stage groups band rows by (band, key) through a 64-bit hash of the key: every bucket of two or
    more rows is found, rows of another band with the same key stay apart, and rows whose hashes collide but whose
    keys differ are not joined (the hash is forced to collide everywhere here)."""
    import pyarrow as pa

    from mmprolong.corpus.dedup import pairs

    rng = np.random.default_rng(3)
    width = 52
    keys = [rng.integers(0, 256, width, dtype=np.uint8).tobytes() for _ in range(40)]
    rows = [(int(rng.integers(0, 3)), keys[int(rng.integers(0, 40))], node) for node in range(300)]
    for f in range(4):   # four signing tasks' bucket files
        part = rows[f::4]
        pa.parquet.write_table(pa.table({"band": pa.array([r[0] for r in part], pa.uint16()),
                                         "key": pa.array([r[1] for r in part], pa.binary(width)),
                                         "node": pa.array([r[2] for r in part], pa.int64())}),
                               tmp_path / f"part-{f:05d}.parquet")
    want: dict = {}
    for band, key, node in rows:
        want.setdefault((band, key), []).append(node)
    want = sorted(sorted(v) for v in want.values() if len(v) > 1)

    def got() -> list:
        n, groups = pairs._buckets(str(tmp_path))
        assert n == len(rows)
        return sorted(sorted(g.tolist()) for g in groups)

    assert got() == want
    monkeypatch.setattr(pairs, "_key_hash", lambda band, key: np.zeros(len(band), np.uint64))   # all collide
    assert got() == want
