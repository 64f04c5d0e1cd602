"""Eval sets on fsspec URLs: `eval build` / `eval needles` / `eval import-mmlongbench` write into fsspec's memory
filesystem (per process, so in this process) and into an S3-compatible server on 127.0.0.1 (moto, `s3_env`; a real
CLI process), from a page store ingested from real PDFs and copied there; the sets are the bytes of a local build.
`eval run` reads a set and a store on a URL into a local run folder; a run or report folder on a URL is refused
before any request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image

from mmprolong import storage
from mmprolong.cli.main import main
from mmprolong.corpus.store import PageStore
from mmprolong.errors import EXIT_OUTPUT
from mmprolong.eval.instance import read_instances, read_manifest
from mmprolong.eval.qaset import load_qa
from mmprolong.eval.runner import read_predictions
from mmprolong.eval.serving import plan as serve_plan
from mmprolong.run.outdir import HOLDER

from .chat_server import ChatServer
from .demo_qa import write_demo_qa

PAGES = (6, 8)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_demo_qa(tmp_path_factory.mktemp("evalfs"), PAGES)


def _build(qa, store, out, *more) -> list[str]:
    return ["eval", "build", "--qa", str(qa), "--dataset", "demo", "--store", str(store), "--out", str(out),
            "--lengths", "8K,32K", "--quiet", *more]


def _run(set_, store, out, url) -> list[str]:
    return ["eval", "run", str(set_), "--store", str(store), "--out", str(out), "--backend", "openai",
            "--base-url", url, "--served-model", "demo", "--quiet"]


@pytest.fixture(scope="module")
def local_set(demo) -> Path:
    assert main(_build(demo / "qa.jsonl", demo / "store", demo / "set")) == 0
    return demo / "set"


def copy_tree(src: Path, url: str) -> str:
    """A local folder's files (not the CLI's locks and logs) copied under a URL, as `aws s3 cp --recursive` would."""
    for p in sorted(src.rglob("*")):
        if p.is_file() and not p.name.startswith((".mmprolong", "mmprolong.")):
            storage.write_bytes(storage.join(url, *p.relative_to(src).parts), p.read_bytes())
    return url


def _memory(name: str) -> str:
    return f"memory://evalfs-{uuid.uuid4().hex[:12]}/{name}"


@pytest.fixture(scope="module")
def memory_store(demo) -> str:
    return copy_tree(demo / "store", _memory("store"))


def _rows(run: Path) -> dict:
    return {k: {c: v for c, v in r.items() if c != "seconds"} for k, r in read_predictions(run).items()}


def _bodies(requests: list[dict]) -> list[str]:
    return sorted(json.dumps(r["body"], sort_keys=True) for r in requests)


def test_build_into_memory_equals_a_local_build(demo, local_set, memory_store):
    url = _memory("set")
    qa = _memory("qa.jsonl")
    storage.write_bytes(qa, (demo / "qa.jsonl").read_bytes())
    assert main(_build(qa, memory_store, url)) == 0
    local = (local_set / "instances.jsonl").read_bytes()
    assert storage.read_bytes(f"{url}/instances.jsonl") == local                  # byte-identical
    insts = [asdict(i) for i in read_instances(url)]
    assert insts == [asdict(i) for i in read_instances(local_set)] and len(insts) == local.count(b"\n")
    assert {i["target_length"] for i in insts} == {8192, 32768}
    assert read_manifest(url) == read_manifest(local_set) and read_manifest(url)["n_instances"] == len(insts)
    assert not storage.exists(f"{url}/{HOLDER}") and storage.read_text(f"{url}/.mmprolong.kind").strip() == "eval-set"
    assert not any(n.endswith(".tmp") for n in storage.listdir(url))
    config = {"model_type": "qwen2_5_vl", "text_config": {"hidden_size": 3584, "num_hidden_layers": 28,
                                                          "num_attention_heads": 28, "num_key_value_heads": 4}}
    assert serve_plan(url, config=config, weights_gib=15.5) == serve_plan(local_set, config=config, weights_gib=15.5)
    # a second build into the same set (the claim held and released again) writes the same bytes
    assert main(_build(qa, memory_store, url)) == 0
    assert storage.read_bytes(f"{url}/instances.jsonl") == local


def test_needles_in_memory_run_into_a_local_folder(demo, memory_store, tmp_path):
    """Image needles are pages written beside the set (assets/): written to the URL, read from it by `eval run`."""
    args = ["--lengths", "8K", "--depths", "0.5", "--tasks", "retrieval,counting", "--repeats", "1", "--quiet"]
    url, local = _memory("needles"), tmp_path / "needles"
    assert main(["eval", "needles", "--store", memory_store, "--out", url, *args]) == 0
    assert main(["eval", "needles", "--store", str(demo / "store"), "--out", str(local), *args]) == 0
    assert storage.read_bytes(f"{url}/instances.jsonl") == (local / "instances.jsonl").read_bytes()
    assets = sorted(p.name for p in (local / "assets").iterdir())
    assert assets and storage.listdir(f"{url}/assets") == assets
    assert all(storage.read_bytes(f"{url}/assets/{n}") == (local / "assets" / n).read_bytes() for n in assets)
    with ChatServer() as srv:             # answers "Answer: <number of images it received>"
        assert main(_run(url, memory_store, tmp_path / "run_url", srv.url)) == 0
        remote, srv.requests[:] = srv.requests[:], []
        assert main(_run(local, demo / "store", tmp_path / "run_local", srv.url)) == 0
        assert remote and _bodies(remote) == _bodies(srv.requests)    # the same pixels and text sent
    assert _rows(tmp_path / "run_url") == _rows(tmp_path / "run_local")
    assert json.loads((tmp_path / "run_url" / "run.json").read_text())["set"] == url


@pytest.mark.slow
def test_build_on_s3_by_a_cli_process_then_run_it(s3_env, demo, local_set, tmp_path):
    base = f"s3://mmprolong-test/evalfs-{uuid.uuid4().hex[:12]}"
    store = copy_tree(demo / "store", f"{base}/store")
    storage.write_bytes(f"{base}/qa.jsonl", (demo / "qa.jsonl").read_bytes())
    r = subprocess.run([sys.executable, "-m", "mmprolong.cli.main",
                        *_build(f"{base}/qa.jsonl", store, f"{base}/set")],
                       capture_output=True, text=True, timeout=600, env={**os.environ, **s3_env})
    assert r.returncode == 0, r.stderr
    assert storage.read_bytes(f"{base}/set/instances.jsonl") == (local_set / "instances.jsonl").read_bytes()
    assert read_manifest(f"{base}/set") == read_manifest(local_set)
    assert not storage.exists(f"{base}/set/{HOLDER}")
    with ChatServer() as srv:
        assert main(_run(f"{base}/set", store, tmp_path / "run_s3", srv.url)) == 0
        remote, srv.requests[:] = srv.requests[:], []
        assert main(_run(local_set, demo / "store", tmp_path / "run_local", srv.url)) == 0
        assert len(remote) == len(list(read_instances(local_set))) and _bodies(remote) == _bodies(srv.requests)
    assert _rows(tmp_path / "run_s3") == _rows(tmp_path / "run_local")
    assert main(["eval", "score", str(tmp_path / "run_s3"), "--quiet"]) == 0      # scoring stays local


def test_load_qa_from_urls(demo, tmp_path):
    rows = [json.loads(ln) for ln in (demo / "qa.jsonl").read_text().splitlines()]
    base = _memory("qa")
    storage.write_text(f"{base}/demo.jsonl", (demo / "qa.jsonl").read_text())
    storage.write_text(f"{base}/demo.json", json.dumps(rows))
    table = pa.Table.from_pylist([{**r, "checks_failed": ["rejected"] if k == 0 else []} for k, r in enumerate(rows)])
    storage.write_parquet(table, f"{base}/demo.parquet")
    storage.write_parquet(table.slice(0, 3), f"{base}/parts/part-0.parquet")     # a synthesis qa/ folder
    storage.write_parquet(table.slice(3), f"{base}/parts/part-1.parquet")
    want = load_qa(demo / "qa.jsonl", "demo")
    assert load_qa(f"{base}/demo.jsonl") == want and want[0].dataset == "demo"   # dataset: the file's stem
    assert load_qa(f"{base}/demo.json") == want
    assert load_qa(f"{base}/demo.parquet") == want[1:]                            # rejected records skipped
    parts = load_qa(f"{base}/parts", "demo")
    assert parts == want[1:] and load_qa(f"{base}/parts")[0].dataset == "parts"
    with pytest.raises(FileNotFoundError, match="no such QA file"):
        load_qa(f"{base}/nope.jsonl")


def test_import_writes_store_and_qa_to_urls(tmp_path):
    """import-mmlongbench with an image-folder document: the store part and the QA JSONL go to the URL, and
    `eval build` reads both from there."""
    docs = tmp_path / "documents"
    for i in (1, 2, 3):
        (docs / "slides").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (600 + i, 800), "white").save(docs / "slides" / f"slide_{i}.png")
    base = _memory("import")
    storage.write_text(f"{base}/bench.json", json.dumps([
        {"doc_id": "slides.pdf", "question": "How many slides?", "answer": "3", "evidence_pages": "[1]",
         "evidence_sources": "[]", "answer_format": "Int"},
        {"doc_id": "slides.pdf", "question": "Bad page?", "answer": "1", "evidence_pages": "[9]",
         "evidence_sources": "[]", "answer_format": "Int"}]))
    assert main(["eval", "import-mmlongbench", "--qa", f"{base}/bench.json", "--docs", str(docs), "--store",
                 f"{base}/store", "--out", f"{base}/qa.jsonl", "--quiet"]) == 0
    items = load_qa(f"{base}/qa.jsonl")
    assert len(items) == 1 and items[0].dataset == "bench" and items[0].evidence_pages == [0]
    assert [i.doc_id for i in items] == PageStore(f"{base}/store").doc_ids()
    assert "outside the document" in storage.read_text(f"{base}/qa.jsonl.refused.jsonl")
    assert main(_build(f"{base}/qa.jsonl", f"{base}/store", f"{base}/set")) == 0
    assert [i.doc_id for i in read_instances(f"{base}/set")] == [items[0].doc_id] * 2


def test_run_and_report_folders_on_urls_are_refused(demo, local_set, memory_store, capsys):
    with ChatServer() as srv:
        rc = main(_run(local_set, demo / "store", "memory://runs/x", srv.url))
        assert rc == EXIT_OUTPUT and srv.requests == []                   # before any request
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert len(err) == 1 and "memory://runs/x: an eval run folder must be a local folder" in err[0]
    assert not storage.exists("memory://runs/x")
    assert main(["eval", "score", "memory://runs/x", "--quiet"]) == EXIT_OUTPUT
    assert main(["eval", "report", str(local_set), "--out", "memory://reports/x"]) == EXIT_OUTPUT
    assert "an eval report folder must be a local folder" in capsys.readouterr().err
    # the exclusion list is read by ingest --exclude from local files: a URL is a usage error, before any work
    assert main(_build(demo / "qa.jsonl", memory_store, _memory("set"), "--exclude-out", "memory://x/ex.txt")) == 2
    assert "must be a local file" in capsys.readouterr().err
