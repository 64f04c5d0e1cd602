"""Hostile inputs, through the real CLI: a file named with bytes that are not UTF-8, symlink loops, dangling links and
several links to one file. Every input gets exactly one docs row (ingested, or recorded with its reason), a name
never stops a run, and a rerun finds every input done."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from mmprolong.corpus.store import PageStore


def _ingest(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "ingest", *map(str, args), "--workers", "1",
                           "--dpi", "36", "--quiet", "--no-report"], capture_output=True, text=True, timeout=300)


def test_every_input_gets_one_row_whatever_its_name(demo_pdfs, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    for i, p in enumerate(demo_pdfs[:6]):
        shutil.copy(p, drop / f"doc{i}.pdf")
    bad = os.path.join(os.fsencode(drop), b"\xff\xfe.pdf")          # not UTF-8
    shutil.copy(demo_pdfs[0].with_name(demo_pdfs[0].name), os.fsdecode(bad))
    with open(bad, "ab") as f:    # other bytes than doc0: a document of its own, not a duplicate
        f.write(b"\n%extra\n")
    named = drop / "\\xff\\xfe.pdf"                            # named with the text \xff\xfe (other bytes again)
    shutil.copy(os.fsdecode(bad), named)
    with open(named, "ab") as f:
        f.write(b"%more\n")
    os.symlink("loop_b.pdf", drop / "loop_a.pdf")                 # a symlink loop
    os.symlink("loop_a.pdf", drop / "loop_b.pdf")
    os.symlink("missing.pdf", drop / "dangling.pdf")              # a dangling link
    links = tmp_path / "links"
    links.mkdir()
    for k in range(3):                                             # three names of one file
        os.symlink(drop / "doc1.pdf", links / f"link{k}.pdf")
    loop_arg = tmp_path / "cmdloop.pdf"                            # a loop named on the command line
    os.symlink(loop_arg.name, loop_arg)

    out = tmp_path / "store"
    r = _ingest(drop, links, loop_arg, "--out", out)
    assert r.returncode == 0, r.stderr
    docs = {d["source"]: d for d in PageStore(out).docs_table(ok_only=False).to_pylist()}
    assert len(docs) == 8 + 3 + 3 + 1   # 8 PDFs, 3 broken links in the folder, 3 links, the command-line loop
    weird = os.fsdecode(bad).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert weird.endswith("/\\xff\\xfe.pdf") and docs[weird]["status"] == "ok"
    # the name holding the text \xff\xfe is stored with its backslashes doubled: two inputs, two stored names
    assert docs[str(drop) + "/\\\\xff\\\\xfe.pdf"]["status"] == "ok"
    for name in ("loop_a.pdf", "loop_b.pdf", "dangling.pdf"):
        row = docs[str(drop / name)]
        assert row["status"] == "error" and "cannot read" in row["error"]
    assert docs[str(loop_arg)]["status"] == "error"
    assert sorted(docs[str(links / f"link{k}.pdf")]["status"] for k in range(3)) == ["duplicate"] * 3
    again = _ingest(drop, links, loop_arg, "--out", out)
    assert again.returncode == 0, again.stderr
    assert PageStore(out).docs_table(ok_only=False).num_rows == len(docs)   # nothing redone, nothing doubled
