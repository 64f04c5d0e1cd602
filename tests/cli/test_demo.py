"""`mmprolong demo`: the main job end to end on the built-in corpus (what `make demo` runs)."""

from __future__ import annotations

import json

import pyarrow.dataset as ds

from mmprolong.cli.main import main
from mmprolong.corpus.store import PageStore
from mmprolong.tokens import load


def test_demo_runs_the_main_job_end_to_end(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--workers", "2"]) == 0

    store = PageStore(out / "store")
    docs = store.docs_table(ok_only=False).to_pylist()
    statuses = {d["status"] for d in docs}
    assert "ok" in statuses and {"encrypted", "empty", "not_pdf"} <= statuses  # broken files recorded, not fatal

    assert (out / "tokens" / "tokens_hist.png").stat().st_size > 0
    shards = ds.dataset(str(out / "build" / "shards"), format="parquet").to_table().to_pylist()
    assert {r["task"] for r in shards} == {"extract-single", "extract-multi", "reasoning", "ocr-full", "ocr-needle"}
    counter = load("qwen2.5-vl")
    for r in shards:  # every length exact, from the one counter
        assert counter.count_messages(json.loads(r["messages"]), max_pixels=r["max_pixels"]).total == r["n_tokens"]
    report = (out / "build" / "report" / "report.md").read_text()
    assert "Task mix" in report and list((out / "build" / "report").glob("*.png"))

    # a second run resumes: nothing rebuilt, nothing duplicated
    assert main(["demo", "--out", str(out), "--workers", "2"]) == 0
    again = ds.dataset(str(out / "build" / "shards"), format="parquet").to_table()
    assert again.num_rows == len(shards)
