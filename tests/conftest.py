"""Shared fixtures: the demo corpus and broken files, written once per test session into a temporary folder."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

from mmprolong.demo.corpus import DemoDocument, plan_demo_corpus, write_broken_files, write_demo_corpus

DEMO_N_DOCS = 6
DEMO_SEED = 0


def pytest_collection_modifyitems(config, items):
    """Modules holding a `slow` test run first, in their own order: on several workers (make test) the longest work
    starts at once instead of running alone at the end; a module's tests stay together for its fixtures."""
    slow = {it.module.__name__ for it in items if it.get_closest_marker("slow") and it.module is not None}
    items.sort(key=lambda it: it.module is None or it.module.__name__ not in slow)


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder made by `build(folder)` once per test run, shared by every pytest-xdist worker of the run: the
    workers' temporary folders sit under one per-run folder, where a file lock lets the first worker build while the
    others wait, and a marker file says the build finished (a failed build leaves none; the next worker retries)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"shared-{name}"
    done = root / f"shared-{name}.done"
    with FileLock(str(root / f"shared-{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """Folder holding the default demo corpus (6 PDFs, seed 0); written once per test run (`built_once`)."""
    return built_once(tmp_path_factory, "demo_pdfs",
                      lambda d: write_demo_corpus(d, n_docs=DEMO_N_DOCS, seed=DEMO_SEED))


@pytest.fixture(scope="session")
def demo_pdfs(demo_dir) -> list[Path]:
    """Paths of the demo PDFs, in plan order (the last one has no outline)."""
    return [demo_dir / doc.filename for doc in plan_demo_corpus(DEMO_N_DOCS, DEMO_SEED)]


@pytest.fixture(scope="session")
def demo_plans() -> list[DemoDocument]:
    """The plans behind `demo_pdfs` (pages, sections, printed labels, facts with their pages)."""
    return plan_demo_corpus(DEMO_N_DOCS, DEMO_SEED)


@pytest.fixture(scope="session")
def broken_pdfs(tmp_path_factory) -> dict[str, Path]:
    """kind -> path: corrupt, truncated, encrypted (user password), empty (zero bytes), not_pdf (text named .pdf)."""
    d = built_once(tmp_path_factory, "broken_pdfs", write_broken_files)
    return {p.stem.removeprefix("broken_"): p for p in sorted(d.glob("broken_*.pdf"))}


@pytest.fixture(scope="session")
def demo_store(demo_dir, tmp_path_factory) -> Path:
    """A page store of the demo corpus made by `mmprolong.corpus.ingest` (72 DPI to stay fast); ingested once per
    test run (`built_once`): tests only read it (one that changes a store copies it first)."""
    from mmprolong.corpus.ingest import IngestConfig, ingest

    return built_once(tmp_path_factory, "demo_store", lambda d: ingest(
        [str(demo_dir)], d / "store", IngestConfig(dpi=72, workers=1, progress=False))) / "store"


S3_BUCKETS = ("mmprolong-test", "mmprolong-build")   # made in the moto server of `s3_env`


@pytest.fixture(scope="session")
def s3_env():
    """A moto S3 server on 127.0.0.1 and the AWS_* environment that points s3fs at it (restored after); one per
    session, since fsspec caches its S3 filesystem (and so the endpoint it was made with) per process."""
    from moto.server import ThreadedMotoServer   # moto[server] and s3fs: the `test` extra

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server._server.server_port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from mmprolong import storage

    fs = storage.filesystem("s3://mmprolong-test")[0]
    for bucket in S3_BUCKETS:
        fs.mkdir(bucket)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()
