import argparse

import pytest

from mmprolong.cli.synth import register


def _parser():
    p = argparse.ArgumentParser(prog="mmprolong")
    register(p.add_subparsers(dest="command"))
    return p


def test_synth_command_runs_rules_on_a_store(demo_store, tmp_path):
    args = _parser().parse_args(["synth", "--store", str(demo_store), "--out", str(tmp_path / "o"), "--per-doc", "1",
                                 "--tasks", "reasoning", "--quiet"])
    assert args.func(args) == 0
    assert (tmp_path / "o" / "report.md").exists()


def test_synth_command_user_errors(demo_store, tmp_path):
    args = _parser().parse_args(["synth", "--store", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--quiet"])
    with pytest.raises(FileNotFoundError):
        args.func(args)
    args = _parser().parse_args(["synth", "--store", str(demo_store), "--out", str(tmp_path / "o"),
                                 "--generator", "openai", "--api-key-env", "SURELY_UNSET_KEY_VAR", "--model", "m"])
    with pytest.raises(ValueError, match="SURELY_UNSET_KEY_VAR"):
        args.func(args)
