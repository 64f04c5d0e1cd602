"""Every command that writes an output folder holds it (`run.outdir.claim`): a folder of another kind is refused
with one line naming the path and what it holds (exit 4), and left unchanged; a second writer is refused naming the
first. The CLI's entry point on real folders (a copy of the demo page store, folders with each kind's own files),
called in this process; the second writer is a real second process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmprolong.cli.main import main
from mmprolong.errors import EXIT_OUTPUT
from mmprolong.run.outdir import KIND_FILE, LOCK, claim, detect_kind


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmprolong.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


def _snapshot(folder: Path) -> dict:
    """Every file's bytes, less the CLI's log files (any command logs into the folder it was given) and the lock
    file (an empty OS lock target)."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith("mmprolong.") and p.name != LOCK}


# each kind's own files, as the command that writes it leaves them
def _build(p: Path) -> Path:
    (p / "_progress").mkdir(parents=True)
    (p / "_progress" / "part-00000.json").write_text("{}")
    (p / "manifest.json").write_text(json.dumps({"recipe_hash": "abc", "recipe": {}}))
    return p


def _sft_import(p: Path) -> Path:
    (p / "_progress").mkdir(parents=True)
    (p / "_progress" / "import.json").write_text(json.dumps({"digest": "x", "inputs": []}))
    (p / "shards").mkdir()
    return p


def _export_llamafactory(p: Path) -> Path:
    (p / "images").mkdir(parents=True)
    (p / "mmprolong.json").write_text("[]\n")
    (p / "dataset_info.json").write_text(json.dumps({"mmprolong": {"file_name": "mmprolong.json"}}))
    return p


def _export_swift(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "mmprolong.jsonl").write_text("")
    (p / "mmprolong_swift.json").write_text("{}")
    return p


def _export_hf(p: Path) -> Path:
    (p / "data").mkdir(parents=True)
    (p / "README.md").write_text("card")
    (p / "mmprolong_export.json").write_text("{}")
    return p


def _eval_set(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "instances.jsonl").write_text("")
    (p / "manifest.json").write_text(json.dumps({"kind": "doc-qa"}))
    return p


def _eval_run(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "run.json").write_text("{}")
    (p / "predictions.jsonl").write_text("")
    return p


def _eval_report(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "report.md").write_text("# Evaluation report")
    (p / "predictions.jsonl").write_text("")
    return p


def _train(p: Path) -> Path:
    (p / "checkpoints").mkdir(parents=True)
    (p / "config.json").write_text("{}")
    (p / "metrics.jsonl").write_text("")
    return p


def _token_report(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "tokens.md").write_text("# Token lengths")
    (p / "tokens_docs.parquet").write_bytes(b"PAR1")
    return p


def _synth(p: Path) -> Path:
    (p / "qa").mkdir(parents=True)
    (p / "report.md").write_text("# Synthesis report")
    return p


MAKERS = {"build": _build, "sft-import": _sft_import, "export": _export_llamafactory, "eval-set": _eval_set,
          "eval-run": _eval_run, "eval-report": _eval_report, "train": _train, "token-report": _token_report,
          "synth": _synth}


@pytest.mark.parametrize("kind,maker", [*MAKERS.items(), ("export", _export_swift), ("export", _export_hf)],
                         ids=lambda x: x if isinstance(x, str) else x.__name__)
def test_detect_kind_from_each_kinds_own_files(tmp_path, kind, maker):
    folder = maker(tmp_path / "x")
    (folder / "mmprolong.log").write_text("a log line\n")
    assert detect_kind(folder) == kind


def test_log_files_alone_are_not_content_and_a_claimed_folder_keeps_its_kind(tmp_path, demo_store):
    f = tmp_path / "out"
    f.mkdir()
    (f / "mmprolong.log").write_text("x")
    (f / "mmprolong.rank1.log").write_text("x")
    assert detect_kind(f) is None
    assert detect_kind(demo_store) == "page-store"
    with claim(f, "export", "test"):   # an export killed before it wrote any marker of its own ...
        (f / "images").mkdir()
    assert (f / KIND_FILE).read_text().strip() == "export" and detect_kind(f) == "export"
    r = _cli("ingest", demo_store / "nothing.pdf", "--out", f, "--quiet", "--no-report")   # ... is still refused
    assert r.returncode == EXIT_OUTPUT and f"{f}: holds an export folder, not a page-store" in r.stderr, r.stderr


@pytest.fixture
def store_copy(demo_store, tmp_path) -> Path:
    return Path(shutil.copytree(demo_store, tmp_path / "store"))


def _qa_file(store: Path, tmp_path: Path) -> Path:
    from mmprolong.corpus.store import PageStore

    doc = PageStore(store).doc_ids()[0]
    q = tmp_path / "qa.jsonl"
    q.write_text(json.dumps({"doc_id": doc, "question": "What?", "answer": "1", "answer_format": "Int",
                             "evidence_pages": [0]}) + "\n")
    return q


# (command line with OUT for the folder given, kind of folder given, what the command writes)
CASES = {
    "ingest": (lambda s, t: ["ingest", s / "missing.pdf", "--out", "OUT", "--quiet", "--no-report"],
               _export_llamafactory, "page-store"),
    "eval-build": (lambda s, t: ["eval", "build", "--qa", _qa_file(s, t), "--store", s, "--out", "OUT",
                                 "--lengths", "8K", "--quiet"], _eval_run, "eval-set"),
    "eval-needles": (lambda s, t: ["eval", "needles", "--store", s, "--out", "OUT", "--lengths", "8K",
                                   "--repeats", "1", "--quiet"], _sft_import, "eval-set"),
    "eval-report": (lambda s, t: ["eval", "report", t / "no-run", "--out", "OUT"], _eval_run, "eval-report"),
    "export-llamafactory": (lambda s, t: ["export", t / "no-build", "--format", "llamafactory", "--to", "OUT"],
                            "store", "export"),
    "export-swift": (lambda s, t: ["export", t / "no-build", "--format", "swift", "--to", "OUT"], _build,
                     "export"),
    "export-hf": (lambda s, t: ["export", t / "no-build", "--format", "hf", "--to", "OUT"], _eval_set, "export"),
    "train": (lambda s, t: ["train", "--preset", "tiny-qwen2.5-vl", "--shards", t / "no-shards", "--out", "OUT",
                            "--no-progress"], _export_hf, "train"),
    "import-sft": (lambda s, t: ["import-sft", t / "no-input.jsonl", "--out", "OUT", "--quiet"], _build,
                   "sft-import"),
    "tokens": (lambda s, t: ["tokens", s, "--out", "OUT", "--quiet"], "store", "token-report"),
    "synth": (lambda s, t: ["synth", "--store", s, "--out", "OUT", "--quiet"], _token_report, "synth"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_command_refuses_a_folder_of_another_kind_and_leaves_it_unchanged(case, store_copy, tmp_path, capsys):
    line, given, writes = CASES[case]
    out = store_copy if given == "store" else given(tmp_path / "given")
    held = detect_kind(out)
    assert held is not None and held != writes
    before = _snapshot(out)
    args = [str(out if a == "OUT" else a) for a in line(store_copy, tmp_path)]
    rc = main(args)   # the CLI's entry point in this process (a second process: the second-writer test below)
    err = capsys.readouterr().err
    assert rc == EXIT_OUTPUT, (rc, err[-2000:])
    msg = err.strip()
    assert len(msg.splitlines()) == 1 and "Traceback" not in msg, msg
    assert f"{out}: holds a" in msg and f" {held} folder, not a" in msg and msg.endswith(
        f"{writes}; use another output folder"), msg
    assert _snapshot(out) == before
    assert detect_kind(out) == held


@pytest.mark.parametrize("line,kind", [
    (lambda t, o: ["export", t / "no-build", "--format", "swift", "--to", o], "export"),
    (lambda t, o: ["train", "--preset", "tiny-qwen2.5-vl", "--shards", t / "no-shards", "--out", o,
                   "--no-progress"], "train"),
], ids=["export", "train"])
def test_a_second_writer_is_refused_naming_the_first(tmp_path, line, kind):
    out = tmp_path / "out"
    with claim(out, kind, f"{kind} (the first writer)"):   # this test process is the first writer
        r = _cli(*line(tmp_path, out))
        assert r.returncode == EXIT_OUTPUT, r.stderr[-2000:]
        msg = r.stderr.strip()
        assert len(msg.splitlines()) == 1 and f"{out}: in use by pid {os.getpid()}" in msg, msg
        assert f"({kind} (the first writer)) since" in msg


def test_only_rank_0_of_a_training_run_holds_its_folder(tmp_path, monkeypatch):
    from mmprolong.errors import OutputError
    from mmprolong.train.config import parse_config
    from mmprolong.train.loop import output_claim

    cfg = parse_config({"output_dir": str(tmp_path / "run"), "model": {"preset": "tiny-qwen2.5-vl"},
                        "data": {"shards": [str(tmp_path)]}})
    monkeypatch.setenv("RANK", "0")
    with output_claim(cfg):
        assert detect_kind(tmp_path / "run") == "train"
        monkeypatch.setenv("RANK", "1")   # another rank of the same run, while rank 0 holds the folder
        with output_claim(cfg):
            pass
        monkeypatch.setenv("RANK", "0")   # a second rank 0 is another run: refused
        with pytest.raises(OutputError, match="in use by pid"):
            with output_claim(cfg):
                pass
