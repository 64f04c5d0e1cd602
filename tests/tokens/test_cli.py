"""`mmprolong tokens STORE`: wiring, outputs and user errors (exit 2, one line)."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq

from mmprolong.cli.main import main


def test_tokens_command_writes_report(demo_store, tmp_path, capsys):
    assert main(["tokens", str(demo_store), "--model", "qwen2.5-vl", "--max-pixels", "401408",
                 "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "documents within 32K" in err and "6 of 6" in err
    for name in ("tokens.md", "tokens_hist.png", "tokens_docs.csv", "tokens_docs.parquet"):
        assert (tmp_path / "r" / name).exists()
    assert pq.read_table(tmp_path / "r" / "tokens_docs.parquet").num_rows == 6


def test_tokens_default_out_folder(demo_store, tmp_path):
    store = shutil.copytree(demo_store, tmp_path / "store")  # the shared store stays as ingest left it
    assert main(["tokens", str(store), "--model", "qwen3-vl", "--quiet"]) == 0
    assert (store / "reports" / "tokens-qwen3-vl" / "tokens.md").exists()


def test_tokens_user_errors(tmp_path, demo_store, capsys):
    assert main(["tokens", str(tmp_path / "missing")]) == 2
    assert main(["tokens", str(demo_store), "--model", "llama"]) == 2
    assert main(["tokens", str(demo_store), "--max-pixels", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mmprolong tokens: error:") for line in err)
