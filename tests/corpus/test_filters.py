"""Decontamination list and page-count window."""

from __future__ import annotations

import hashlib

import pytest

from mmprolong.corpus.filters import load_exclusions, page_count_status, sha256_file


def test_sha256_is_of_the_file_bytes(tmp_path):
    p = tmp_path / "x.pdf"
    p.write_bytes(b"%PDF-1.4 hello")
    assert sha256_file(p) == hashlib.sha256(b"%PDF-1.4 hello").hexdigest()


def test_exclusions_from_hashes_and_paths(tmp_path, demo_pdfs):
    h = "AB" * 32
    lst = tmp_path / "eval_docs.txt"
    lst.write_text(f"# eval set\n{h}\n{demo_pdfs[1]}  # by path\n\n")
    assert load_exclusions([lst]) == {h.lower(), sha256_file(demo_pdfs[1])}


def test_bad_exclusion_lines_name_file_and_line(tmp_path):
    lst = tmp_path / "eval_docs.txt"
    lst.write_text("0123\n")
    with pytest.raises(FileNotFoundError, match=r"eval_docs.txt:1: '0123' is neither a SHA-256"):
        load_exclusions([lst])
    with pytest.raises(FileNotFoundError, match="exclude: .*nope.txt"):
        load_exclusions([tmp_path / "nope.txt"])


def test_page_count_window():
    assert page_count_status(20, 20, 200) is None
    assert page_count_status(19, 20, 200)[0] == "too_few_pages"
    assert page_count_status(201, 20, 200)[0] == "too_many_pages"
    assert page_count_status(10_000, 1, None) is None
