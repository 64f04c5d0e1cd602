"""Scale-out of the build: workers read their own documents and keep the images (the driver sends ids, docs rows and
row-group locations, a few hundred bytes, and gets light rows back), and the part files are the same bytes on every
executor: local 1 and 2 workers, threads, a local Ray, a Ray cluster of a head and two worker nodes. OUT may be an
fsspec URL (memory://)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import fsspec
import pytest
import yaml

import mmprolong.run as run
from mmprolong.cli.main import main
from mmprolong.corpus.store import Document
from mmprolong.dataset.build import build
from mmprolong.dataset.document import DocItem
from mmprolong.dataset.parts import PartWriter, read_table
from mmprolong.recipe import parse_recipe

from .docs import write_tiny_store
from .test_build import RECIPE

pytestmark = pytest.mark.slow   # several processes each: started first under xdist (tests/conftest.py)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_tiny_store(tmp_path_factory.mktemp("store"), 8)


def part_bytes(out: Path) -> dict[str, bytes]:
    got = {f"{d}/{f.name}": f.read_bytes() for d in ("shards", "qa", "rejected")
           for f in sorted((out / d).glob("*.parquet"))}
    assert got and not list((out / "_staging").iterdir())   # staged files are gone once committed
    return got


@pytest.fixture(scope="module")
def reference(store, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("ref") / "out"
    build(parse_recipe(RECIPE), store, out, executor="local", workers=1, progress=False, report=False)
    return part_bytes(out)


@pytest.mark.parametrize("executor,workers", [("local", 2), ("threads", 3)])
def test_same_part_bytes_on_every_local_executor(store, reference, tmp_path, executor, workers):
    build(parse_recipe(RECIPE), store, tmp_path / "o", executor=executor, workers=workers, progress=False,
          report=False)
    assert part_bytes(tmp_path / "o") == reference


def test_same_part_bytes_on_a_local_ray(store, reference, tmp_path, monkeypatch):
    """...and each part is assembled by a Ray task, not in the driver (the process that wrote it is recorded)."""
    pytest.importorskip("ray")
    import os

    from mmprolong.dataset import parts

    real, seen = parts.write_part, tmp_path / "writers"
    seen.mkdir()

    def recorded(out, n, *rest):
        (seen / f"{n}-{os.getpid()}").touch()
        return real(out, n, *rest)

    monkeypatch.setattr(parts, "write_part", recorded)
    build(parse_recipe(RECIPE), store, tmp_path / "o", executor="ray", workers=2, progress=False, report=False)
    assert part_bytes(tmp_path / "o") == reference
    writers = [p.name.split("-") for p in seen.iterdir()]
    assert len(writers) == len(list((tmp_path / "o" / "shards").iterdir()))
    assert all(int(pid) != os.getpid() for _, pid in writers)


def test_same_part_bytes_on_a_ray_cluster_of_two_worker_nodes(store, reference, tmp_path):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            build(parse_recipe(RECIPE), store, tmp_path / "o", executor="ray", progress=False, report=False)
            workers = {n.node_id for n in nodes}
            assert len([n for n in ray.nodes() if n["Alive"] and n["NodeID"] in workers]) == 2
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
    assert part_bytes(tmp_path / "o") == reference


def test_the_driver_sends_no_pages(store, tmp_path, monkeypatch):
    """What the driver hands the executor: DocItems of a few hundred bytes, no Document, no image."""
    sent: list[int] = []
    real = run.map_unordered

    def spy(fn, items, **kw):
        def watched():
            for item in items:
                assert isinstance(item, DocItem) and not isinstance(item.row, Document)
                assert not any(isinstance(v, bytes) for v in item.row.values())
                sent.append(len(pickle.dumps(item)))
                yield item
        return real(fn, watched(), **kw)

    monkeypatch.setattr(run, "map_unordered", spy)
    build(parse_recipe(RECIPE), store, tmp_path / "o", executor="threads", workers=2, progress=False, report=False)
    assert len(sent) == 9 and max(sent) < 2048


def test_a_build_on_an_fsspec_url(store, reference, tmp_path):
    """OUT = memory://...: parts, records, plan, manifest and report go through fsspec; the same part bytes; a second
    run resumes (nothing redone)."""
    url = "memory://builds/scaleout"
    fs = fsspec.filesystem("memory")
    try:
        s = build(parse_recipe(RECIPE), store, url, executor="threads", workers=2, progress=False)
        got = {f"{d}/{n.rsplit('/', 1)[1]}": fs.cat(n) for d in ("shards", "qa", "rejected")
               for n in sorted(fs.ls(f"/builds/scaleout/{d}", detail=False))}
        assert got == reference
        assert fs.ls("/builds/scaleout/_staging", detail=False) == []
        for name in ("manifest.json", "plan.json", "_progress/build.json", "report/report.md", "report/lengths.png"):
            assert fs.exists(f"/builds/scaleout/{name}"), name
        assert read_table(url, "shards", ["n_tokens"]).num_rows == s.samples > 0
        again = build(parse_recipe(RECIPE), store, url, executor="threads", workers=2, progress=False, report=False)
        assert again.resumed and again.samples == s.samples
    finally:
        if fs.exists("/builds"):
            fs.rm("/builds", recursive=True)


def test_cli_build_to_a_url(store, reference, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # nothing may land in a local folder named after the URL
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    fs = fsspec.filesystem("memory")
    try:
        assert main(["build", "--recipe", str(recipe), "--store", str(store), "--out", "memory://builds/cli",
                     "--executor", "threads", "--workers", "2", "--quiet", "--no-report"]) == 0
        assert fs.cat("/builds/cli/shards/part-00000.parquet") == reference["shards/part-00000.parquet"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]
    finally:
        if fs.exists("/builds"):
            fs.rm("/builds", recursive=True)


def test_stale_staged_files_and_orphan_parts_are_removed_on_resume_on_a_url():
    url = "memory://builds/orphans"
    fs = fsspec.filesystem("memory")
    try:
        w = PartWriter(url)
        w.add([], [], [])
        w.commit(3)
        fs.pipe("/builds/orphans/shards/part-00001.parquet", b"half")   # killed before its record was written
        fs.pipe("/builds/orphans/_staging/4.parquet", b"staged by a worker, never committed")
        w2 = PartWriter(url)
        assert w2.progress.parts == 1 and w2.progress.docs_done == 3
        assert [p.rsplit("/", 1)[1] for p in fs.ls("/builds/orphans/shards", detail=False)] == ["part-00000.parquet"]
        assert fs.ls("/builds/orphans/_staging", detail=False) == []
    finally:
        if fs.exists("/builds"):
            fs.rm("/builds", recursive=True)


def test_a_process_pool_builds_into_s3(store, reference, s3_env):
    """Real worker processes stage their documents' rows into an S3 bucket (moto's server on 127.0.0.1, through
    s3fs); the parts assembled from them are the same bytes as a local build's."""
    from mmprolong import storage

    url = "s3://mmprolong-build/out"
    s = build(parse_recipe(RECIPE), store, url, executor="local", workers=2, progress=False, report=False)
    got = {f"{d}/{n}": storage.read_bytes(f"{url}/{d}/{n}") for d in ("shards", "qa", "rejected")
           for n in storage.listdir(f"{url}/{d}", ".parquet")}
    assert got == reference and storage.listdir(f"{url}/_staging") == []
    assert json.loads(storage.read_text(f"{url}/manifest.json"))["summary"]["samples"] == s.samples > 0


def test_memory_urls_need_the_threads_executor(store):
    with pytest.raises(ValueError, match="threads"):
        build(parse_recipe(RECIPE), store, "memory://builds/refused", executor="local", workers=1, progress=False)
