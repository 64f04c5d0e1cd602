"""`mmprolong build` for a new user: the offline path is named where the key is missing and in --help, every
bundled recipe is listed, and the summary says when the store ran out of documents before the budget."""

from __future__ import annotations

import pytest

from mmprolong.cli.main import build_parser, main
from mmprolong.recipe import available_recipes


def _help(argv) -> str:
    p = build_parser()
    with pytest.raises(SystemExit):
        p.parse_args(argv + ["--help"])


def test_build_help_lists_every_bundled_recipe_and_the_offline_path(capsys):
    _help(["build"])
    text = " ".join(capsys.readouterr().out.split())
    for name in available_recipes():
        assert name in text, name
    assert "--generator rules" in text and "offline" in text


def test_no_key_names_the_offline_path_and_leaves_no_folder(demo_store, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "data"
    assert main(["build", "--recipe", "paper-qwen2.5-vl-7b", "--store", str(demo_store), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "--generator rules" in err and "--recipe demo" in err
    assert not out.exists()


def test_generator_rules_builds_a_teacher_recipe_offline_and_says_the_pool_ran_out(demo_store, tmp_path,
                                                                                    monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "data"
    assert main(["build", "--recipe", "histogram-8k-128k", "--generator", "rules", "--store", str(demo_store),
                 "--out", str(out), "--workers", "1", "--no-report"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "pool exhausted: " in err and "of 5,000,000,000 tokens" in err
    import json

    man = json.loads((out / "manifest.json").read_text())
    assert man["recipe"]["generator"] == {"kind": "rules"} and man["recipe"]["name"] == "histogram-8k-128k-rules"
    assert man["summary"]["samples"] > 0 and man["summary"]["pool_exhausted"]
