"""Every command is described, every flag explained, lengths read the same everywhere, and --help stays light."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from mmprolong.cli.main import build_parser, main
from mmprolong.units import format_length, parse_length


def _walk(p: argparse.ArgumentParser, path: str = "mmprolong"):
    yield path, p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                yield from _walk(sp, f"{path} {name}")


def test_every_command_has_a_description_and_every_flag_a_help_text():
    missing = []
    for path, p in _walk(build_parser()):
        if not (p.description or "").strip():
            missing.append(f"{path}: no description")
        for a in p._actions:
            if isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            documented = {b.dest for b in p._actions if b.help and b.help != argparse.SUPPRESS}
            if a.help == argparse.SUPPRESS and a.dest in documented:
                continue   # a hidden old name of a documented flag (e.g. serve-config --gpu-mem-gib)
            if not a.help or a.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(a.option_strings) or a.dest}: no help")
    assert not missing, "\n".join(missing)


def test_top_level_description_says_what_the_tool_does():
    d = build_parser().description
    assert "entry point" not in d and "PDF" in d and "train" in d and "eval" in d


def test_help_imports_no_heavy_library():
    """`mmprolong --help` must stay fast: building the parser imports none of the ML / data libraries."""
    heavy = ("pyarrow", "torch", "transformers", "pandas", "ray", "numpy", "PIL", "pypdfium2", "openai", "matplotlib",
             "pydantic", "yaml")
    code = ("import sys; from mmprolong.cli.main import build_parser; build_parser(); "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"--help imports {out}"


@pytest.mark.parametrize("text,n", [("131072", 131072), ("128K", 131072), ("128k", 131072), ("1M", 1048576),
                                    ("1.5K", 1536), (" 8K ", 8192), ("4_194_304", 4194304)])
def test_lengths_are_read_as_written(text, n):
    assert parse_length(text) == n


@pytest.mark.parametrize("bad", ["", "K", "-8K", "0", "1e30", "12.5", "nan", "8KB"])
def test_bad_lengths_are_refused_with_the_value(bad):
    with pytest.raises(ValueError, match="bad length"):
        parse_length(bad)


def test_format_length():
    assert [format_length(n) for n in (131072, 1048576, 5000)] == ["128K", "1M", "5000"]


@pytest.mark.parametrize("flag", ["131072", "128K", "128k"])
def test_every_command_that_takes_a_length_accepts_all_spellings(flag):
    p = build_parser()
    assert p.parse_args(["plan", "--length", flag]).length == 131072
    assert p.parse_args(["train", "--max-length", flag]).max_length == 131072


def test_plan_that_does_not_fit_says_what_would(capsys):
    assert main(["plan", "--length", "128k", "--gpus", "8", "--sp", "2", "--gpu-mem", "80"]) == 1
    err = capsys.readouterr().err
    assert "does not fit" in err and "--sp 4" in err and "--cpu-offload" in err
    assert main(["plan", "--length", "128K", "--gpus", "8", "--sp", "2", "--gpu-mem", "96"]) == 0


def test_bad_length_flag_is_a_usage_error_naming_the_value(capsys):
    with pytest.raises(SystemExit) as e:
        main(["plan", "--length", "128Q"])
    assert e.value.code == 2 and "128Q" in capsys.readouterr().err
