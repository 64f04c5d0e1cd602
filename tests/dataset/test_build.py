"""The build end to end on a real page store: files and contracts, exact lengths, determinism, budget, resume after
SIGKILL (a real subprocess), the Ray executor, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from .docs import write_tiny_store

from mmprolong import schema, tokens
from mmprolong.cli.main import main
from mmprolong.dataset.build import build
from mmprolong.dataset.parts import REJECTED, PartWriter, read_table
from mmprolong.recipe import parse_recipe

RECIPE = {"name": "tiny", "max_length": 2048, "max_pixels": 200_704,
          "lengths": {"mode": "histogram", "edges": [512, 1024, 2048]},
          "segment": {"min_pages": 3, "max_pages": 6}, "per_document": 2, "budget_tokens": 10**7, "shard_size": 3}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_tiny_store(tmp_path_factory.mktemp("store"), 10)


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {f"{d}/{f.name}": f.read_bytes() for d in ("shards", "qa", "rejected")
            for f in sorted((out / d).glob("*.parquet"))}


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "out"
    build(parse_recipe(RECIPE), store, out, workers=1, progress=False)
    return out


def test_outputs_follow_the_contracts(built):
    for name, sch in (("shards", schema.SAMPLES), ("qa", schema.QA), ("rejected", REJECTED)):
        files = sorted((built / name).glob("*.parquet"))
        assert files and all(pq.read_schema(f).equals(sch) for f in files)
    m = json.loads((built / "manifest.json").read_text())
    assert m["recipe"]["name"] == "tiny" and m["summary"]["samples"] > 0 and m["versions"]["mmprolong"]
    rows = read_table(built, "shards").to_pylist()
    assert len(rows) == m["summary"]["samples"] and len({r["sample_id"] for r in rows}) == len(rows)
    assert {r["recipe_hash"] for r in rows} == {m["recipe_hash"]}
    qa_ids = set(read_table(built, "qa", ["qa_id"]).column("qa_id").to_pylist())
    assert {r["qa_id"] for r in rows} == qa_ids
    for name in ("report.md", "lengths.png", "depth.png", "pages.png", "tasks.png", "rejections.png"):
        assert (built / "report" / name).stat().st_size > 0


def test_every_sample_has_its_exact_length_and_whole_images(built):
    counter = tokens.load("qwen2.5-vl", max_pixels=200_704)
    for r in read_table(built, "shards").to_pylist():
        messages = json.loads(r["messages"])
        c = counter.count_messages(messages)
        assert (r["n_tokens"], r["n_image_tokens"]) == (c.total, c.image_tokens)
        assert r["n_tokens"] <= 2048
        parts = [p for p in messages[0]["content"] if p["type"] == "image"]
        assert [p["page"] for p in parts] == r["pages"] and len(r["images"]) == len(parts)
        assert all(img[:2] == b"\xff\xd8" for img in r["images"])     # JPEG bytes embedded
        assert messages[1]["content"][0]["text"] == r["target"]
        assert r["depth"] is None or 0 <= r["depth"] <= 1


def test_bad_documents_are_rejections_not_crashes(built):
    rej = read_table(built, "rejected").to_pylist()
    blank = [r for r in rej if r["doc_id"] == "doc99-blank"]
    assert len(blank) == 2 * 5 and all(r["reason"] for r in blank)   # 2 slots x (3 segments + 2 other tasks)
    assert not any(r["doc_id"] == "doc99-blank" for r in read_table(built, "shards", ["doc_id"]).to_pylist())


def test_same_recipe_same_bytes_whatever_the_workers(store, built, tmp_path):
    build(parse_recipe(RECIPE), store, tmp_path / "two", workers=2, progress=False, report=False)
    assert shard_bytes(tmp_path / "two") == shard_bytes(built)


def test_budget_stops_the_build(store, tmp_path):
    r = parse_recipe(RECIPE | {"budget_tokens": 2500})
    s = build(r, store, tmp_path / "out", workers=1, progress=False, report=False)
    n = read_table(tmp_path / "out", "shards", ["n_tokens"]).column("n_tokens").to_pylist()
    # within 1% of the budget, or (instances large against it) the instance that ends nearest the budget
    assert s.tokens == sum(n) and not s.pool_exhausted
    assert abs(sum(n) - 2500) <= 25 or 0 < sum(n) - 2500 < 2500 - (sum(n) - n[-1])
    assert s.docs_done < s.docs_planned


def test_a_finished_build_is_not_redone_and_other_recipes_are_refused(store, built):
    before = shard_bytes(built)
    s = build(parse_recipe(RECIPE), store, built, workers=1, progress=False, report=False)
    assert s.resumed and shard_bytes(built) == before
    with pytest.raises(ValueError, match="another recipe"):
        build(parse_recipe(RECIPE | {"seed": 5}), store, built, workers=1, progress=False)


def test_resume_after_sigkill_loses_and_duplicates_nothing(store, built, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE | {"shard_size": 1}))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", str(recipe), "--store", str(store),
           "--out", str(out), "--workers", "1", "--quiet", "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "_progress" / "part-00002.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    progress = PartWriter(out).progress
    assert not progress.finished and progress.docs_done < 11
    assert main(cmd[3:]) == 0                         # the same command again resumes
    rows = read_table(out, "shards", ["sample_id"]).column("sample_id").to_pylist()
    want = read_table(built, "shards", ["sample_id"]).column("sample_id").to_pylist()
    assert rows == want                               # nothing lost, nothing twice, same order
    assert sorted(read_table(out, "rejected", ["reason"]).column("reason").to_pylist()) == sorted(
        read_table(built, "rejected", ["reason"]).column("reason").to_pylist())


def test_orphan_part_files_are_removed_on_resume(tmp_path):
    w = PartWriter(tmp_path)
    w.add([], [], [])
    w.commit(3)
    (tmp_path / "shards" / "part-00001.parquet").write_bytes(b"half")   # killed before its record was written
    (tmp_path / "qa" / "part-00001.parquet.tmp").write_bytes(b"half")
    w2 = PartWriter(tmp_path)
    assert w2.progress.parts == 1 and w2.progress.docs_done == 3
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["part-00000.parquet"]
    assert list((tmp_path / "qa").glob("*.tmp")) == []


# Ray gives the same part bytes: tests/dataset/test_build_scaleout.py (a local Ray and a two-node Ray cluster)


def test_threads_executor_gives_the_same_rows(store, built, tmp_path):
    build(parse_recipe(RECIPE), store, tmp_path / "threads", executor="threads", workers=4, progress=False,
          report=False)
    assert shard_bytes(tmp_path / "threads") == shard_bytes(built)


def test_cli_build_and_errors(store, tmp_path, capsys):
    assert main(["build", "--recipe", "no-such", "--store", str(store), "--out", str(tmp_path / "o")]) == 2
    assert "recipe 'no-such' not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("mixture:\n  tasks:\n    extract-singel: 1.0\n")
    assert main(["build", "--recipe", str(bad), "--store", str(store), "--out", str(tmp_path / "o")]) == 2
    assert "mixture.tasks.extract-singel: unknown key" in capsys.readouterr().err
    assert main(["build", "--recipe", "demo", "--store", str(tmp_path / "nostore"), "--out", str(tmp_path / "o")]) == 2
    assert "not a page store" in capsys.readouterr().err


def test_ocr_baselines(store, tmp_path):
    r = parse_recipe(RECIPE | {"mixture": {"tasks": {"ocr-full": 0.5, "ocr-needle": 0.5}}, "max_length": 1500,
                               "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100}})
    build(r, store, tmp_path / "out", workers=1, progress=False, report=False)
    rows = read_table(tmp_path / "out", "shards").to_pylist()
    assert {r["task"] for r in rows} == {"ocr-full", "ocr-needle"}
    for row in rows:
        assert row["n_tokens"] <= 1500
        if row["task"] == "ocr-full":
            assert row["depth"] is None
            assert row["target"].startswith(f"### Page {row['pages'][0] + 1}\n")
            assert f"### Page {row['pages'][-1] + 1}\n" in row["target"]
        else:
            assert 0 <= row["depth"] <= 1
    rej = read_table(tmp_path / "out", "rejected").to_pylist()
    blank = {r["reason"].split(":")[0] for r in rej if r["doc_id"] == "doc99-blank"}
    assert blank <= {"generation-failed", "no-text-layer"} and blank


def test_parts_are_also_cut_by_image_bytes(store, built, tmp_path, monkeypatch):
    from mmprolong.dataset import parts

    monkeypatch.setattr(parts, "MAX_PART_BYTES", 1)            # every document's samples make their own part
    build(parse_recipe(RECIPE | {"shard_size": 1000}), store, tmp_path / "out", workers=1, progress=False,
          report=False)
    files = [pq.read_table(f, columns=["doc_id"]).column("doc_id").to_pylist()
             for f in sorted((tmp_path / "out" / "shards").glob("*.parquet"))]
    docs = set(read_table(built, "shards", ["doc_id"]).column("doc_id").to_pylist())
    assert all(len(set(f)) <= 1 for f in files) and len([f for f in files if f]) == len(docs)
    assert [x for f in files for x in f] == read_table(built, "shards", ["doc_id"]).column("doc_id").to_pylist()


def test_cli_plan_only(store, capsys):
    assert main(["build", "--recipe", "demo", "--store", str(store), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "extract-single" in out and "round 0" in out


def test_out_must_be_a_build_folder(store, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a build folder"):
        build(parse_recipe(RECIPE), store, tmp_path, workers=1, progress=False)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "_progress").mkdir()   # killed right after creating its folders: still resumable
    assert build(parse_recipe(RECIPE | {"budget_tokens": 500}), store, tmp_path, workers=1, progress=False,
                 report=False).samples >= 1


def test_the_driver_locates_pages_from_the_docs_rows(store, built, tmp_path, monkeypatch):
    """A store whose docs rows name their pages (every store the writer makes): the build driver never builds the
    store-wide page index (a Python dict of every document: ~1 GB at 1.5M documents), and builds the same bytes."""
    from mmprolong.corpus.store import PageStore
    from mmprolong.corpus.writer import StoreWriter

    src = PageStore(store)
    w = StoreWriter(tmp_path / "located", flush_pages=25, flush_docs=4)
    for doc in src.iter_documents(with_images=True):
        row = src.doc_row(doc.doc_id)
        w.add({k: v for k, v in row.items() if k not in ("pages_file", "page_row_groups", "page_sizes")}, doc.pages)
    w.close()
    assert len(list((tmp_path / "located" / "pages").iterdir())) > 1

    def no_index(self):
        raise AssertionError("the store-wide page index was built")

    monkeypatch.setattr(PageStore, "page_index", no_index)
    build(parse_recipe(RECIPE), tmp_path / "located", tmp_path / "out", workers=1, progress=False)
    assert shard_bytes(tmp_path / "out") == shard_bytes(built)
