"""The teacher client against hostile servers on 127.0.0.1: a reply trickled one byte a second is cut at the
whole-request deadline; a 200 whose body is not JSON and a reset connection get their own labels, are retried, and
are never cached."""

from __future__ import annotations

import json
import random
import time

import pytest

from mmprolong.synth import GenerationError

from .docs import report_doc
from .test_openai_gen import GOOD, _gen, env_key  # noqa: F401 - env_key is a fixture


def test_a_trickling_reply_is_cut_at_the_request_deadline(teacher, env_key, tmp_path):  # noqa: F811
    teacher.default = ("trickle", json.dumps(GOOD), 1.0)   # a valid reply, one byte per second (~400 s)
    gen = _gen(teacher, env_key, tmp_path, timeout_s=2, max_retries=0)
    t = time.monotonic()
    with pytest.raises(GenerationError, match="timeout"):
        gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert time.monotonic() - t < 2 + 3   # the deadline, plus start-up slack; per-read timeouts never fire here
    assert len(gen.cache) == 0


@pytest.mark.parametrize("behaviour,label", [(("raw", 200, b"<html>gateway says hi</html>"), "bad_response"),
                                              (("reset",), "connection_error")])
def test_transport_failures_are_labelled_retried_and_not_cached(teacher, env_key, tmp_path, behaviour,  # noqa: F811
                                                                label):
    teacher.default = behaviour
    gen = _gen(teacher, env_key, tmp_path, timeout_s=5, max_retries=1)
    with pytest.raises(GenerationError, match=label) as e:
        gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert e.value.reason == label
    assert len(teacher.requests) == 2 and len(gen.cache) == 0     # retried once; a rerun asks again
    teacher.default = ("json", GOOD)
    [qa] = gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert qa.answer == "4210"
