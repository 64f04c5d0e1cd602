import json

import pytest

from mmprolong import tokens
from mmprolong.corpus.store import PageStore
from mmprolong.eval.backends.openai_backend import OpenAIBackend, OpenAIConfig
from mmprolong.eval.build import build_eval_set
from mmprolong.eval.catalog import PageCatalog
from mmprolong.eval.prompt import PromptConfig
from mmprolong.eval.qaset import QAItem
from mmprolong.eval.runner import PREDICTIONS, read_predictions, run_eval

from ..chat_server import ChatServer


@pytest.fixture(scope="module")
def eval_set(store_dir, doc_ids, tmp_path_factory):
    out = tmp_path_factory.mktemp("set")
    cat = PageCatalog(PageStore(store_dir), tokens.load("qwen2.5-vl"), PromptConfig(), max_pixels=200_000)
    items = [QAItem(qa_id=f"q{i}", dataset="demo", doc_id=doc_ids[i], question=f"How many pages? {i}",
                    answer="3", answer_format="Integer", evidence_pages=[1]) for i in range(3)]
    build_eval_set(items, cat, [2048, 4096], out, progress=False)
    return out


def test_run_answers_resumes_and_retries(eval_set, store_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    counter = tokens.load("qwen2.5-vl")
    with ChatServer(fail_first=1) as srv:
        cfg = OpenAIConfig(base_url=srv.url, model="m", api_key_env="MY_KEY", concurrency=3, max_retries=2,
                           timeout=20)
        be = OpenAIBackend(cfg)
        r1 = run_eval(eval_set, be, tmp_path / "run", PageStore(store_dir), counter, limit=1, progress=False)
        assert r1 == {"instances": 2, "skipped_done": 0, "answered": 2, "errors": 0}
        assert len(srv.requests) == 3                      # one 500 retried by the client
        # simulate a kill mid-write: a torn last line is redone, nothing duplicated
        with open(tmp_path / "run" / PREDICTIONS, "a") as f:
            f.write('{"instance_id": "q1@20')
        r2 = run_eval(eval_set, be, tmp_path / "run", PageStore(store_dir), counter, progress=False)
        assert r2["skipped_done"] == 2 and r2["answered"] == 4
        assert len(srv.requests) == 7
        r3 = run_eval(eval_set, be, tmp_path / "run", PageStore(store_dir), counter, progress=False)
        assert r3["answered"] == 0 and len(srv.requests) == 7
        # images were sent inline, at the counted size, and the key went in the header only
        req = srv.requests[-1]
        assert req["auth"] == "Bearer sk-secret-123"
        assert req["body"]["max_tokens"] == 256 and req["body"]["temperature"] == 0.0
    preds = read_predictions(tmp_path / "run")
    assert len(preds) == 6
    for row in preds.values():
        assert row["prediction"].startswith("Answer: ") and int(row["prediction"].split()[-1]) >= 1
    assert "sk-secret-123" not in (tmp_path / "run" / "run.json").read_text()
    assert "sk-secret-123" not in (tmp_path / "run" / PREDICTIONS).read_text()


def test_server_sees_counted_image_sizes(eval_set, store_dir, tmp_path):
    counter = tokens.load("qwen2.5-vl")
    seen = []

    def reply(body, text, sizes):
        seen.append(sizes)
        return "Answer: ok"

    with ChatServer(reply=reply) as srv:
        be = OpenAIBackend(OpenAIConfig(base_url=srv.url, model="m", concurrency=1))
        run_eval(eval_set, be, tmp_path / "r", PageStore(store_dir), counter, limit=1, lengths=[2048],
                 progress=False)
    for w, h in seen[0]:
        assert w % 28 == 0 and h % 28 == 0 and w * h <= 200_000


def test_errors_are_recorded_and_retried(eval_set, store_dir, tmp_path):
    counter = tokens.load("qwen2.5-vl")
    be = OpenAIBackend(OpenAIConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout=2,
                                    concurrency=2))
    r = run_eval(eval_set, be, tmp_path / "r", PageStore(store_dir), counter, limit=1, progress=False)
    assert r["errors"] == 2
    rows = [json.loads(x) for x in (tmp_path / "r" / PREDICTIONS).read_text().splitlines()]
    assert all("Connection" in x["error"] for x in rows)
    with ChatServer() as srv:
        be = OpenAIBackend(OpenAIConfig(base_url=srv.url, model="m"))
        r = run_eval(eval_set, be, tmp_path / "r", PageStore(store_dir), counter, limit=1, progress=False)
    assert r["answered"] == 2
    assert all(not x["error"] for x in read_predictions(tmp_path / "r").values())
