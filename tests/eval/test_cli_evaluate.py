"""End to end on the built-in demo documents: ingest -> eval build (8K-512K) / needles -> run (openai, local
server) -> score -> report, through the real CLI."""

import json
import re

import pytest

from mmprolong import tokens
from mmprolong.cli.main import main
from mmprolong.eval.catalog import PageCatalog
from mmprolong.eval.exclusion import read_exclusion
from mmprolong.eval.instance import read_instances
from mmprolong.eval.prompt import PromptConfig
from mmprolong.corpus.store import PageStore

from .chat_server import ChatServer
from .demo_qa import write_demo_qa


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_qa(tmp_path_factory.mktemp("demo"), (20, 22))


def test_build_all_lengths_exact(demo):
    set_dir, excl = demo / "set", demo / "exclude.txt"
    rc = main(["eval", "build", "--qa", str(demo / "qa.jsonl"), "--dataset", "demo", "--store", str(demo / "store"),
               "--out", str(set_dir), "--lengths", "8K,16K,32K,64K,128K,256K,512K", "--exclude-out", str(excl),
               "--quiet"])
    assert rc == 0
    insts = list(read_instances(set_dir))
    assert {i.target_length for i in insts} >= {8192, 131072, 524288}
    counter = tokens.load("qwen2.5-vl")
    cat = PageCatalog(PageStore(demo / "store"), counter, PromptConfig())
    for i in insts:
        msgs = cat.messages(i.context, i.question, i.doc_name)
        assert counter.count_messages(msgs, add_generation_prompt=True).total == i.n_tokens <= i.target_length
    assert {d for i in insts for d, _ in i.pages()} <= read_exclusion(excl)


def test_needles_run_score_report(demo):
    set_dir, run_dir = demo / "needles", demo / "run"
    assert main(["eval", "needles", "--store", str(demo / "store"), "--out", str(set_dir), "--lengths", "8K,32K",
                 "--depths", "0,0.5,1", "--tasks", "retrieval", "--repeats", "1", "--quiet"]) == 0

    def reply(body, text, sizes):  # a "model" that reads text needles only
        m = re.search(r"secret number of the \w+ \w+ is (\d+)", text)
        return f"Answer: {m.group(1)}" if m else "Answer: Not answerable"

    with ChatServer(reply=reply) as srv:
        assert main(["eval", "run", str(set_dir), "--store", str(demo / "store"), "--out", str(run_dir),
                     "--backend", "openai", "--base-url", srv.url, "--served-model", "demo", "--quiet"]) == 0
        assert main(["eval", "run", str(set_dir), "--store", str(demo / "store"), "--out", str(run_dir),
                     "--backend", "openai", "--base-url", srv.url, "--served-model", "demo", "--quiet"]) == 0
        assert len(srv.requests) == 12
    assert main(["eval", "score", str(run_dir), "--quiet"]) == 0
    scores = json.loads((run_dir / "scores.json").read_text())
    grid = scores["needles"]
    assert all(v["score"] == 100.0 and v["n"] == 1 for v in grid["niah-text/retrieval"]["8192"].values())
    assert all(v["score"] == 0.0 for v in grid["niah-image/retrieval"]["32768"].values())
    assert main(["eval", "report", str(run_dir), "--out", str(demo / "report")]) == 0
    md = (demo / "report" / "report.md").read_text()
    assert "niah-text/retrieval" in md and (demo / "report" / "needles_0.png").exists()


def test_user_errors_exit_2(demo, capsys):
    assert main(["eval", "build", "--qa", str(demo / "nope.jsonl"), "--store", str(demo / "store"),
                 "--out", str(demo / "x"), "--quiet"]) == 2
    assert "no such QA file" in capsys.readouterr().err
    assert main(["eval", "build", "--qa", str(demo / "qa.jsonl"), "--store", str(demo / "store"), "--out",
                 str(demo / "x"), "--lengths", "8K,huge", "--quiet"]) == 2
    assert main(["eval", "run", str(demo / "x"), "--out", str(demo / "r"), "--backend", "openai"]) == 2
    bad = demo / "prompt.json"
    bad.write_text(json.dumps({"instructon": "typo"}))
    assert main(["eval", "build", "--qa", str(demo / "qa.jsonl"), "--store", str(demo / "store"), "--out",
                 str(demo / "x"), "--prompt", str(bad), "--quiet"]) == 2
    assert "instructon" in capsys.readouterr().err
