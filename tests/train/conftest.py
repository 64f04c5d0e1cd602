"""Fixtures for the trainer tests: the one TokenCounter, the image processor, a tiny random Qwen2.5-VL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def counter():
    from mmprolong.tokens import load

    return load("qwen2.5-vl")


@pytest.fixture(scope="session")
def processor(counter):
    from mmprolong.train.encode import image_processor_for

    return image_processor_for(counter)


@pytest.fixture()
def tiny_hf():
    from mmprolong.train.model import build_model, preset_config

    torch.manual_seed(0)
    return build_model(preset_config("tiny-qwen2.5-vl"))


@pytest.fixture(scope="session")
def reference():
    """preset -> (loss, grads) of dist_workers.reference_loss_and_grads, computed once a session (a pure function of
    the preset: seed-0 model, fixed packs) for the multi-process tests that compare against it."""
    from dist_workers import reference_loss_and_grads

    cache: dict = {}

    def get(preset: str):
        if preset not in cache:
            cache[preset] = reference_loss_and_grads(preset)
        return cache[preset]

    return get


@pytest.fixture(scope="session")
def samples(counter, processor):
    from helpers import chat

    from mmprolong.train.encode import encode_messages

    out = []
    for i, n_img in enumerate([1, 0, 2, 3]):
        m, im = chat(i, n_images=n_img)
        out.append(encode_messages(counter, processor, m, im, sample_id=f"s{i}"))
    return out
