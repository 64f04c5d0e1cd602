"""Ingest end to end on real PDFs: what lands in the store, failures as data, filters, time-outs, resume after
kill -9, and the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmprolong.cli.main import main
from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.store import PageStore

from .conftest import KNOWN_SENTENCE

FAST = dict(dpi=36, jpeg_quality=60, workers=2, progress=False)


def _docs(store: Path) -> dict[str, dict]:
    rows = PageStore(store).docs_table(ok_only=False).to_pylist()
    return {Path(r["source"]).name: r for r in rows}


def test_a_drop_of_good_and_bad_files(corpus_dir, demo_plans):
    out = corpus_dir.parent / "store"
    s = ingest([str(corpus_dir)], out, IngestConfig(**FAST))
    docs = _docs(out)
    assert {n: d["status"] for n, d in docs.items() if n.startswith("broken")} == {
        "broken_corrupt.pdf": "corrupt", "broken_truncated.pdf": "corrupt", "broken_encrypted.pdf": "encrypted",
        "broken_empty.pdf": "empty", "broken_not_pdf.pdf": "not_pdf"}
    assert all(d["error"] for n, d in docs.items() if d["status"] != "ok")
    copy = docs["zz_copy_of_first.pdf"]
    assert copy["status"] == "duplicate" and demo_plans[0].filename in copy["error"]
    first = docs[demo_plans[0].filename]
    assert first["doc_id"] == copy["doc_id"] == hashlib.sha256(Path(first["source"]).read_bytes()).hexdigest()
    assert first["status"] == "ok" and first["sections_from"] == "outline" and first["dpi"] == 36
    assert first["title"] == demo_plans[0].title and first["n_pages"] == demo_plans[0].n_pages
    assert [(x["first_page"], x["level"], x["heading"]) for x in first["sections"]] == \
        [tuple(x) for x in demo_plans[0].sections]
    hand = docs["handmade.pdf"]
    assert hand["status"] == "ok" and hand["sections_from"] == "heuristic"
    assert hand["title"] == "Handmade Test Document"

    store = PageStore(out)
    got = {d.source: d for d in store.iter_documents()}
    assert len(got) == 4  # 3 demo reports + handmade; the duplicate is stored once
    for d in got.values():
        assert [p["page"] for p in d.pages] == list(range(d.n_pages))
        assert all(p["image"][:2] == b"\xff\xd8" for p in d.pages)  # JPEG
    assert KNOWN_SENTENCE in got[hand["source"]].pages[0]["text"]
    n_rows = store.pages_dataset().count_rows()
    assert n_rows == sum(d.n_pages for d in got.values()) == s.pages

    m = store.manifest
    assert m["complete"] and m["counts"]["ok"] == 4 and m["counts"]["duplicate"] == 1 and m["pages"] == n_rows
    assert set(m["versions"]) >= {"mmprolong", "pypdfium2", "pillow", "pyarrow"}
    assert m["settings"]["dpi"] == 36
    assert s.counts["ok"] == 4 and s.skipped == 0

    again = ingest([str(corpus_dir)], out, IngestConfig(**FAST))  # same command again: nothing to do
    assert again.skipped == len(docs) and again.counts == {} and store.pages_dataset().count_rows() == n_rows


def test_exclusions_and_page_window(corpus_dir, demo_plans, demo_pdfs, tmp_path):
    exclude = tmp_path / "eval_docs.txt"
    exclude.write_text(f"{demo_pdfs[1]}\n")
    out = tmp_path / "store"
    ingest([str(corpus_dir / "reports"), str(corpus_dir / "handmade.pdf")], out,
           IngestConfig(**FAST, exclude=[str(exclude)], min_pages=20, max_pages=200))
    docs = _docs(out)
    assert docs[demo_plans[1].filename]["status"] == "excluded"
    assert docs["handmade.pdf"]["status"] == "too_few_pages" and docs["handmade.pdf"]["n_pages"] == 3
    ok = set(PageStore(out).pages_dataset().to_table(columns=["doc_id"]).column("doc_id").to_pylist())
    assert docs[demo_plans[1].filename]["doc_id"] not in ok   # an eval document never reaches the pages
    assert ok == {docs[demo_plans[0].filename]["doc_id"], docs[demo_plans[2].filename]["doc_id"]}


def test_a_slow_document_times_out_and_the_run_goes_on(demo_pdfs, broken_pdfs, tmp_path):
    out = tmp_path / "store"
    s = ingest([str(demo_pdfs[0]), str(broken_pdfs["not_pdf"])], out,
               IngestConfig(dpi=200, workers=1, timeout_s=0.2, progress=False))
    docs = _docs(out)
    assert docs[demo_pdfs[0].name]["status"] == "timeout" and "0.2 s" in docs[demo_pdfs[0].name]["error"]
    assert docs[broken_pdfs["not_pdf"].name]["status"] == "not_pdf"
    assert s.pages == 0 and PageStore(out).pages_dataset().count_rows() == 0


def _snapshot(store: Path):
    docs = {r["source"]: {k: v for k, v in r.items() if k not in ("seconds", "pages_file", "page_row_groups")}
            for r in PageStore(store).docs_table(ok_only=False).to_pylist()}
    pages = PageStore(store).pages_dataset().to_table().to_pylist()
    keys = [(p["doc_id"], p["page"]) for p in pages]
    return docs, {k: (p["text"], hashlib.sha256(p["image"]).hexdigest()) for k, p in zip(keys, pages)}, keys


@pytest.mark.parametrize("mode", [["--flush-pages", "60", "--flush-docs", "2", "--no-worker-writes"],  # batched parts
                                  ["--flush-docs", "2", "--worker-writes"]])     # pages files written by workers
def test_resume_after_kill9_equals_an_uninterrupted_run(demo_pdfs, broken_pdfs, tmp_path, mode):
    inputs = [str(p) for p in demo_pdfs] + [str(broken_pdfs["encrypted"])]
    shutil.copy(demo_pdfs[2], tmp_path / "copy.pdf")
    inputs.append(str(tmp_path / "copy.pdf"))
    args = ["--dpi", "60", "--jpeg-quality", "70", "--workers", "1", *mode, "--quiet"]
    cmd = [sys.executable, "-m", "mmprolong.cli.main", "ingest", *inputs, *args]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)], start_new_session=True)
    deadline = time.monotonic() + 60
    while not list((killed / "docs").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-run
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = PageStore(killed)
    assert not partial.manifest["complete"]
    assert 0 < partial.docs_table(ok_only=False).num_rows < len(inputs)  # really killed in the middle

    assert subprocess.run(cmd + ["--out", str(killed)], timeout=120).returncode == 0
    clean = tmp_path / "clean"
    assert subprocess.run(cmd + ["--out", str(clean)], timeout=120).returncode == 0

    docs_k, pages_k, keys_k = _snapshot(killed)
    docs_c, pages_c, keys_c = _snapshot(clean)
    assert docs_k == docs_c and len(docs_k) == len(inputs)
    assert len(keys_k) == len(set(keys_k)) == len(keys_c)   # none lost, none duplicated
    assert pages_k == pages_c
    assert PageStore(killed).manifest["complete"]
    committed = {r["pages_file"] for r in PageStore(killed).docs_table().to_pylist()}
    assert {p.name for p in (killed / "pages").iterdir()} == committed   # no leftover of the killed run


def test_cli_runs_and_reports_user_errors(handmade_pdf, tmp_path, capsys):
    out = tmp_path / "store"
    assert main(["ingest", str(handmade_pdf), "--out", str(out), "--dpi", "36", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "pages written" in err and "ok" in err
    assert PageStore(out).manifest["pages"] == 3
    report = (out / "report.md").read_text()
    assert "| ok | 1 |" in report and "heuristic 1" in report
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["ingest", str(handmade_pdf), "--out", str(out), "--dpi", "72", "--quiet"]) == 2
    assert "dpi=36" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "missing.pdf"), "--out", str(out), "--quiet"]) == 2
    assert main(["ingest", str(handmade_pdf), "--out", str(tmp_path / "o2"), "--jpeg-quality", "0"]) == 2
    assert "jpeg_quality" in capsys.readouterr().err


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="dpii: unknown ingest setting"):
        IngestConfig.from_dict({"dpii": 144})
    with pytest.raises(ValueError, match="sections"):
        IngestConfig(sections="toc")
    with pytest.raises(ValueError, match="max_pages"):
        IngestConfig(min_pages=20, max_pages=10)


def test_long_documents_are_streamed_and_stored_the_same(demo_pdfs, tmp_path):
    inputs = [str(p) for p in demo_pdfs[:2]]
    whole, streamed = tmp_path / "whole", tmp_path / "streamed"
    ingest(inputs, whole, IngestConfig(**FAST))
    ingest(inputs, streamed, IngestConfig(**FAST, flush_pages=8))   # 29+ page documents: written by their workers
    parts = sorted(p.name for p in (streamed / "pages").iterdir())
    assert len(parts) == 2 and all(p.startswith("doc-") for p in parts)
    assert _snapshot(streamed)[0] == _snapshot(whole)[0]
    assert _snapshot(streamed)[1] == _snapshot(whole)[1]
    for d in PageStore(streamed).iter_documents(with_images=False):
        assert [p["page"] for p in d.pages] == list(range(d.n_pages))
