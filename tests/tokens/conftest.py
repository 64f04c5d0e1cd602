"""Reference processors for the token tests: transformers' own Qwen-VL processors, built offline once a session."""

from __future__ import annotations

import warnings

import pytest

import mmprolong.tokens as tokens
from mmprolong.tokens import hf_reference


@pytest.fixture(scope="session")
def hf_tok25():
    return hf_reference.build_tokenizer("qwen2.5-vl")


@pytest.fixture(scope="session")
def hf_tok3():
    return hf_reference.build_tokenizer("qwen3-vl")


@pytest.fixture(scope="session")
def hf_processors(hf_tok25, hf_tok3):
    """model name -> a function(max_pixels=None) giving that model's processor (tokenizer shared)."""
    toks = {"qwen2.5-vl": hf_tok25, "qwen3-vl": hf_tok3}
    cache = {}

    def get(model: str, max_pixels: int | None = None):
        if (model, max_pixels) not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[model, max_pixels] = hf_reference.build_processor(model, tokenizer=toks[model],
                                                                        max_pixels=max_pixels)
        return cache[model, max_pixels]

    return get


@pytest.fixture(scope="session")
def counters():
    return {"qwen2.5-vl": tokens.load("qwen2.5-vl"), "qwen3-vl": tokens.load("qwen3-vl")}
