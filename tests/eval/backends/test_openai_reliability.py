"""`eval run` against hostile servers on 127.0.0.1: a trickled reply is cut at the request deadline; a gateway that
echoes the rejected credentials never gets the key into predictions.jsonl or the terminal; inputs are checked
before a run (store needed and given, backend reachable), with a one-line error and exit 3."""

from __future__ import annotations

import json
import socket
import time

import openai  # noqa: F401 - imported here so that the timing below measures the request, not the import
import pytest
from PIL import Image

from mmprolong import tokens
from mmprolong.cli.main import main
from mmprolong.corpus.store import PageStore
from mmprolong.errors import EXIT_SETUP
from mmprolong.eval.backends.openai_backend import OpenAIBackend, OpenAIConfig
from mmprolong.eval.runner import PREDICTIONS, run_eval

from ...synth.teacher_server import TeacherServer
from .test_openai_backend import eval_set  # noqa: F401 - fixture

SECRET = "sk-echo-secret-7791"


@pytest.fixture
def server():
    s = TeacherServer()
    yield s
    s.close()


def test_a_trickling_reply_is_cut_at_the_request_deadline(server):
    server.default = ("trickle", "Answer: 1", 1.0)
    be = OpenAIBackend(OpenAIConfig(base_url=server.base_url, model="m", timeout=2, max_retries=0))
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "q"}]}]
    t = time.monotonic()
    with pytest.raises(TimeoutError, match="2 s request deadline"):
        be.generate(msgs, [Image.new("RGB", (28, 28))])
    assert time.monotonic() - t < 2 + 3


def test_an_echoing_gateway_never_gets_the_key_on_disk(server, eval_set, store_dir, tmp_path,  # noqa: F811
                                                       monkeypatch, capsys):
    monkeypatch.setenv("ECHO_KEY", SECRET)
    server.default = ("echo_auth", 401)
    be = OpenAIBackend(OpenAIConfig(base_url=server.base_url, model="m", api_key_env="ECHO_KEY", max_retries=0))
    r = run_eval(eval_set, be, tmp_path / "run", PageStore(store_dir), tokens.load("qwen2.5-vl"), limit=1,
                 progress=False)
    assert r["errors"] == 2 and server.auth[0] == f"Bearer {SECRET}"   # the server did echo it
    text = (tmp_path / "run" / PREDICTIONS).read_text()
    assert SECRET not in text and "Bearer ***" in text
    rc = main(["eval", "run", str(eval_set), "--store", str(store_dir), "--out", str(tmp_path / "cli"),
               "--backend", "openai", "--base-url", server.base_url, "--served-model", "m", "--api-key-env",
               "ECHO_KEY", "--retries", "0", "--quiet"])
    out = capsys.readouterr()
    assert rc != 0 and "errors" in out.out   # every request failed: non-zero, the summary counts the errors
    assert SECRET not in out.out + out.err + (tmp_path / "cli" / PREDICTIONS).read_text()


def test_a_set_of_store_pages_without_store_stops_before_the_run(eval_set, tmp_path, server,  # noqa: F811
                                                                 capsys):
    rc = main(["eval", "run", str(eval_set), "--out", str(tmp_path / "run"), "--backend", "openai",
               "--base-url", server.base_url, "--served-model", "m", "--quiet"])
    err = capsys.readouterr().err
    assert rc == EXIT_SETUP and "pass --store" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / PREDICTIONS).exists() and not server.requests


def test_an_unreachable_backend_stops_before_the_run(eval_set, store_dir, tmp_path, capsys):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["eval", "run", str(eval_set), "--store", str(store_dir), "--out", str(tmp_path / "run"),
               "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1", "--served-model", "m", "--quiet"])
    err = capsys.readouterr().err
    assert rc == EXIT_SETUP and "not reachable" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / PREDICTIONS).exists()


def test_a_model_the_server_does_not_list_stops_before_the_run(eval_set, store_dir, tmp_path, server,  # noqa: F811
                                                              capsys):
    server.models = ["other"]
    rc = main(["eval", "run", str(eval_set), "--store", str(store_dir), "--out", str(tmp_path / "run"),
               "--backend", "openai", "--base-url", server.base_url, "--served-model", "m", "--quiet"])
    assert rc == EXIT_SETUP and "does not serve model 'm'" in capsys.readouterr().err


def test_a_key_echoed_in_an_answer_is_redacted_and_a_huge_reply_is_refused(server, eval_set, store_dir,  # noqa: F811
                                                                           tmp_path, monkeypatch):
    """A 200 answer that quotes the key is written with the key masked; a 3 MB reply (a server ignoring max_tokens)
    is the request's error `reply_too_large`, and nothing of it reaches predictions.jsonl."""
    monkeypatch.setenv("ECHO_KEY", SECRET)
    server.script = [("text", f"Answer: 3 (you sent {SECRET})"), ("text", "x" * 3_000_000)]
    be = OpenAIBackend(OpenAIConfig(base_url=server.base_url, model="m", api_key_env="ECHO_KEY", max_retries=0,
                                    concurrency=1))
    r = run_eval(eval_set, be, tmp_path / "run", PageStore(store_dir), tokens.load("qwen2.5-vl"), limit=1,
                 progress=False)
    assert (r["answered"], r["errors"]) == (1, 1) and len(server.requests) == 2
    text = (tmp_path / "run" / PREDICTIONS).read_text()
    assert SECRET not in text and len(text) < 10_000
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0]["prediction"] == "Answer: 3 (you sent ***)" and not rows[0]["error"]
    assert rows[1]["prediction"] is None and "reply_too_large" in rows[1]["error"]
    assert "1,048,576 bytes" in rows[1]["error"]


@pytest.mark.parametrize("key, value", [("concurrency", 0), ("timeout", -1.0), ("timeout", float("inf")),
                                        ("max_new_tokens", 0), ("max_retries", -1), ("max_reply_bytes", 10)])
def test_backend_settings_no_run_can_use_are_errors_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m", **{key: value})
