"""Recipes: bundled ones load, wrong keys and values are errors naming the key path, the hash is stable."""

from __future__ import annotations

import pytest
import yaml

from mmprolong import tokens
from mmprolong.recipe import available_recipes, load_recipe, parse_recipe, recipe_hash


def test_bundled_recipes_load():
    assert set(available_recipes()) >= {"paper-qwen2.5-vl-7b", "long-biased", "ocr-full", "ocr-needle", "demo",
                                        "histogram-8k-128k"}
    assert load_recipe("histogram-8k-128k").lengths.bucket_shares() == [0.25] * 4
    paper = load_recipe("paper-qwen2.5-vl-7b")
    assert paper.lengths.mode == "pool-native" and (paper.lengths.min_pages, paper.lengths.max_pages) == (32, 50)
    assert paper.mixture.tasks.as_dict() == {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}
    assert paper.budget_tokens == 5_000_000_000 and paper.max_length == 131072
    assert paper.generator.kind == "openai"
    assert load_recipe("long-biased").lengths.min_pages == 50
    assert load_recipe("ocr-full").mixture.tasks.as_dict() == {"ocr-full": 1.0}
    assert load_recipe("demo").generator.kind == "rules"


def test_defaults_are_the_papers():
    r = parse_recipe({})
    assert r.max_length == 131072 and r.budget_tokens == 5_000_000_000
    assert r.mixture.tasks.as_dict() == {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}
    assert (r.segment.min_pages, r.segment.max_pages) == (8, 15)
    assert r.lengths.mode == "pool-native" and (r.lengths.min_pages, r.lengths.max_pages) == (32, 50)


@pytest.mark.parametrize("data, message", [
    ({"mixture": {"tasks": {"extract-singel": 1.0}}}, "mixture.tasks.extract-singel: unknown key"),
    ({"max_lenght": 4096}, "max_lenght: unknown key"),
    ({"lengths": {"mode": "pool-native", "min_page": 3}}, "lengths.min_page: unknown key"),
    ({"mixture": {"tasks": {"extract-single": 0.5, "reasoning": 0.2}}}, "mixture.tasks: task shares must sum to 1"),
    ({"mixture": {"tasks": {"reasoning": -1, "extract-single": 2}}}, "mixture.tasks.reasoning"),
    ({"lengths": {"mode": "uniform"}}, "lengths.mode"),
    ({"lengths": {"mode": "histogram"}}, "lengths: histogram mode needs edges"),
    ({"lengths": {"mode": "histogram", "edges": [8192, 4096]}}, "edges must be increasing"),
    ({"lengths": {"mode": "histogram", "edges": [1, 2, 3], "shares": [1.0]}}, "shares has 1 values for 2 buckets"),
    ({"lengths": {"mode": "pool-native", "min_pages": 60, "max_pages": 50}}, "min_pages 60 > max_pages 50"),
    ({"segment": {"min_pages": 9, "max_pages": 3}}, "segment: min_pages 9 > max_pages 3"),
    ({"budget_tokens": 0}, "budget_tokens"),
    ({"budget_tokens": 1.5}, "budget_tokens: must be a whole number"),
    ({"budget_tokens": float("inf")}, "budget_tokens: must be a finite whole number of tokens, got inf"),
    ({"budget_tokens": float("nan")}, "budget_tokens: must be a finite whole number of tokens, got nan"),
    ({"budget_tokens": -5e9}, "budget_tokens: Input should be greater than or equal to 1"),
    ({"budget_tokens": "lots"}, "budget_tokens: must be a whole number of tokens, got 'lots'"),
    ({"generator": {"kind": "gpt"}}, "generator.kind"),
    ({"generator": {"kind": "rules", "modle": "x"}}, "generator.modle: unknown key"),
    ({"page_markers": "maybe"}, "page_markers"),
    ({"max_length": 4096, "lengths": {"mode": "histogram", "edges": [8192, 16384]}},
     "lengths.edges: the lowest edge 8192 is not below max_length 4096"),
])
def test_errors_name_the_key(data, message):
    with pytest.raises(ValueError) as e:
        parse_recipe(data, "r.yaml")
    assert message in str(e.value) and str(e.value).startswith("r.yaml: ")


def test_an_infinite_budget_in_yaml_is_an_error_naming_the_key():
    """`budget_tokens: .inf` was an OverflowError traceback."""
    for text in ("budget_tokens: .inf", "budget_tokens: .nan", "budget_tokens: -.inf"):
        with pytest.raises(ValueError, match="^r.yaml: budget_tokens: must be a finite whole number"):
            parse_recipe(yaml.safe_load(text), "r.yaml")


def test_budget_accepts_scientific_notation():
    assert parse_recipe(yaml.safe_load("budget_tokens: 5e9")).budget_tokens == 5_000_000_000
    assert parse_recipe({"budget_tokens": 5.0e9}).budget_tokens == 5_000_000_000


def test_resolve_by_path_and_name(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nmax_length: 8192\n")
    assert load_recipe(p).max_length == 8192
    assert load_recipe(str(p)).name == "mine"
    with pytest.raises(FileNotFoundError, match="not one of"):
        load_recipe("no-such-recipe")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="YAML mapping"):
        load_recipe(bad)


def test_hash_is_stable_and_tracks_counting():
    a = parse_recipe({"seed": 1, "max_length": 8192, "mixture": {"tasks": {"reasoning": 0.5, "extract-single": 0.5}}})
    b = parse_recipe({"mixture": {"tasks": {"extract-single": 0.5, "reasoning": 0.5}}, "max_length": 8192, "seed": 1})
    assert recipe_hash(a) == recipe_hash(b)
    assert recipe_hash(a) != recipe_hash(parse_recipe({"seed": 2, "max_length": 8192, "mixture": {
        "tasks": {"reasoning": 0.5, "extract-single": 0.5}}}))
    # a change in the counting rule changes the hash (the fingerprint is part of it)
    assert recipe_hash(a, tokens.load("qwen2.5-vl", max_pixels=200_704)) != recipe_hash(a)
    assert recipe_hash(a, tokens.load("qwen3-vl")) != recipe_hash(a)


def test_operational_generator_settings_do_not_change_the_hash():
    base = {"generator": {"kind": "openai", "model": "m", "cache_dir": "/a", "timeout_s": 30}}
    other = {"generator": {"kind": "openai", "model": "m", "cache_dir": "/b", "timeout_s": 90, "concurrency": 2}}
    assert recipe_hash(parse_recipe(base)) == recipe_hash(parse_recipe(other))
    assert recipe_hash(parse_recipe(base)) != recipe_hash(parse_recipe(
        {"generator": {"kind": "openai", "model": "other", "cache_dir": "/a"}}))


def test_verify_keys_are_typed_and_named_in_errors():
    from mmprolong.recipe import parse_recipe, recipe_hash

    for bad, key in [({"kind": "openai", "modell": "m"}, "verify.modell"), ({"kind": "openai"}, "verify.model"),
                     ({"kind": "openai", "model": "m", "checks": ["closedbook"]}, "verify.checks"),
                     ({"kind": "gpt"}, "verify.kind"), ({"min_score": 2}, "verify.min_score")]:
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            parse_recipe({"verify": bad})
    off, on = parse_recipe({}), parse_recipe({"verify": {"kind": "openai", "model": "m"}})
    assert not off.verify.enabled and on.verify.checks == ["evidence", "closed_book"]
    assert recipe_hash(off) == recipe_hash(parse_recipe({"verify": {"kind": "none"}})) != recipe_hash(on)
    moved = parse_recipe({"verify": {"kind": "openai", "model": "m", "cache_dir": "/x", "concurrency": 3}})
    assert recipe_hash(moved) == recipe_hash(on)   # operational settings leave the hash alone
