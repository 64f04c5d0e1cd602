"""Unbounded inputs are refused or capped, naming the key: `per_document: true`, `max_length: 1e30`, and a teacher
reply far longer than `max_tokens` can produce (a 2 MB evidence string): rejected as reply_too_long, not kept or
cached whole."""

from __future__ import annotations

import random

import pytest
import yaml

from mmprolong.recipe import load_recipe
from mmprolong.synth import GenerationError

from .docs import report_doc
from .test_openai_gen import GOOD, _gen, env_key  # noqa: F401 - env_key is a fixture


@pytest.mark.parametrize("key,value", [("per_document", True), ("max_length", 1e30), ("max_length", 2**40)])
def test_recipe_refuses_unbounded_values_naming_the_key(tmp_path, key, value):
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump({key: value}))
    with pytest.raises(ValueError, match=key):
        load_recipe(p)


def test_a_huge_teacher_reply_is_refused_and_not_cached(teacher, env_key, tmp_path):  # noqa: F811
    teacher.default = ("json", dict(GOOD, evidence="x" * 2_000_000))
    gen = _gen(teacher, env_key, tmp_path, json_retries=0, max_tokens=1024)
    with pytest.raises(GenerationError, match="reply_too_long"):
        gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert gen.cache.path.stat().st_size < 200_000
