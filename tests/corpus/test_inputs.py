"""Input expansion: files, folders (recursive), globs, list files; order kept, each file once."""

from __future__ import annotations

import os

import pytest

from mmprolong.corpus.inputs import expand_inputs


@pytest.fixture
def tree(tmp_path):
    for rel in ["a/one.pdf", "a/b/two.PDF", "a/b/notes.md", "c/three.pdf", "loose.bin"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"%PDF-1.4\n")
    return tmp_path


def test_folder_is_recursive_and_sorted(tree):
    assert expand_inputs([str(tree / "a")]) == [str(tree / "a/b/two.PDF"), str(tree / "a/one.pdf")]


def test_glob_and_explicit_file_of_any_name(tree):
    got = expand_inputs([str(tree / "**/*.pdf"), str(tree / "loose.bin")])
    assert got == [str(tree / "a/one.pdf"), str(tree / "c/three.pdf"), str(tree / "loose.bin")]


def test_list_file_with_relative_paths_comments_and_dedup(tree):
    lst = tree / "inputs.lst"
    lst.write_text("# eval-free drop\nc/three.pdf\n\na\n" + str(tree / "c/three.pdf") + "\n")
    assert expand_inputs([str(lst), str(tree / "a/one.pdf")]) == [
        str(tree / "c/three.pdf"), str(tree / "a/b/two.PDF"), str(tree / "a/one.pdf")]


def test_missing_inputs_are_clear_errors(tree):
    with pytest.raises(FileNotFoundError, match="nope.pdf: no such file"):
        expand_inputs([str(tree / "nope.pdf")])
    with pytest.raises(FileNotFoundError, match="matches no file"):
        expand_inputs([str(tree / "*.xyz")])
    lst = tree / "bad.txt"
    lst.write_text("c/three.pdf\nmissing.pdf\n")
    with pytest.raises(FileNotFoundError, match=r"bad.txt:2: missing.pdf"):
        expand_inputs([str(lst)])
    with pytest.raises(ValueError, match="inputs"):
        expand_inputs([])


def test_stored_names_are_one_to_one():
    """A name holding the byte 0xff and one holding the text `\\xff` were both stored as `\\xff`."""
    from mmprolong.corpus.inputs import printable

    raw, text = os.fsdecode(b"/d/a\xff.pdf"), "/d/a\\xff.pdf"
    assert printable(raw) == "/d/a\\xff.pdf" and printable(text) == "/d/a\\\\xff.pdf"
    assert printable("/d/plain é.pdf") == "/d/plain é.pdf"
    names = [os.fsdecode(b) for b in (b"a\xff", b"a\\xff", b"a\\\xff", b"a\\\\xff", b"a\\x", b"a\xc3\xa9")]
    assert len({printable(n) for n in names}) == len(names)
