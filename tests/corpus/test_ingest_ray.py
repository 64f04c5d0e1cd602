"""Ingest on a real local Ray cluster (a head and two worker nodes on this machine): workers write their documents'
pages files, the driver gets docs rows only; the store equals a one-worker local ingest; a failed document
commits no pages; a resume adds nothing twice."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from mmprolong.corpus import ingest as ingest_module
from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.store import PageStore

from ..run.test_outdir import _long_pdf
from .test_worker_writes import snapshot

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(request):
    from ray.cluster_utils import Cluster

    try:   # the nodes' workers inherit this environment: the S3 server's endpoint and dummy keys when there is one
        request.getfixturevalue("s3_env")
    except pytest.skip.Exception:
        pass

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})   # the head runs the driver, no tasks
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, nodes
    c.shutdown()


@pytest.mark.slow
def test_ingest_on_a_ray_cluster_equals_one_local_worker(cluster, corpus_dir, tmp_path, monkeypatch):
    c, nodes = cluster
    fast = dict(dpi=36, jpeg_quality=60, progress=False)
    local = tmp_path / "local"
    ingest([str(corpus_dir)], local, IngestConfig(**fast, workers=1))

    received: list[tuple[int, int]] = []   # (pickled bytes, pages) of every rendering result the driver got
    hashed: list[str] = []                 # inputs hashed by the cluster's workers
    real = ingest_module.map_unordered

    def spy(fn, *args, **kwargs):
        for task, result in real(fn, *args, **kwargs):
            if fn is ingest_module.hash_input:
                hashed.append(task[1])
            else:
                received.append((len(pickle.dumps(result)), len(getattr(result, "pages", []))))
            yield task, result

    def driver_hash(path):
        raise AssertionError(f"the driver read {path} to hash it")

    monkeypatch.setattr(ingest_module, "map_unordered", spy)
    monkeypatch.setattr(ingest_module, "sha256_file", driver_hash)   # workers import their own, unpatched
    out = tmp_path / "ray"
    s = ingest([str(corpus_dir)], out, IngestConfig(**fast, executor="ray", ray_address=c.address))
    assert s.counts == {"corrupt": 2, "empty": 1, "encrypted": 1, "not_pdf": 1, "ok": 4, "duplicate": 1}
    assert len(hashed) == 10 and len(received) == 9   # every input hashed on a worker; the duplicate not rendered
    assert snapshot(out) == snapshot(local)
    assert received and all(pages == 0 for _, pages in received)        # no page rows reached the driver
    assert max(size for size, _ in received) < 16_000                  # a docs row, not a document's JPEGs
    ps = PageStore(out)
    assert sorted(p.name for p in (out / "pages").iterdir()) == sorted(r["pages_file"] for r in ps.docs_table()
                                                                       .to_pylist())
    # a document that runs over its limit (in-task alarm on a worker node) commits no pages; the rest is not redone
    slow = _long_pdf(tmp_path / "slow.pdf", 3000)
    received.clear()
    s2 = ingest([str(corpus_dir), str(slow)], out,
                IngestConfig(**fast, executor="ray", ray_address=c.address, timeout_s=1.0))
    assert s2.counts == {"timeout": 1} and s2.skipped == 10 and len(received) == 1
    rows = {Path(r["source"]).name: r for r in PageStore(out).docs_table(ok_only=False).to_pylist()}
    assert rows["slow.pdf"]["status"] == "timeout" and rows["slow.pdf"]["pages_file"] is None
    assert sorted(p.name for p in (out / "pages").iterdir()) == sorted(r["pages_file"] for r in ps.docs_table()
                                                                       .to_pylist())
    assert snapshot(out)[1] == snapshot(local)[1]                        # nothing added twice


@pytest.mark.slow
def test_ingest_on_a_ray_cluster_into_s3(cluster, s3_env, corpus_dir, tmp_path):
    """The nodes were started with the S3 server's environment (the cluster fixture): workers write to S3."""
    from mmprolong import storage

    c, _ = cluster
    fast = dict(dpi=36, jpeg_quality=60, progress=False)
    url = "s3://mmprolong-test/ray-store"
    s = ingest([str(corpus_dir / "reports"), str(corpus_dir / "handmade.pdf")], url,
               IngestConfig(**fast, executor="ray", ray_address=c.address))
    assert s.counts == {"ok": 4}
    local = tmp_path / "local"
    ingest([str(corpus_dir / "reports"), str(corpus_dir / "handmade.pdf")], local, IngestConfig(**fast, workers=1))
    assert snapshot(url) == snapshot(local)
    assert storage.listdir(f"{url}/pages") == sorted(r["pages_file"] for r in PageStore(url).docs_table().to_pylist())
