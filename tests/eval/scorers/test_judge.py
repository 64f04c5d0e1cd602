import json
import re

import pytest

from mmprolong.eval.runner import PREDICTIONS
from mmprolong.eval.score import score_run
from mmprolong.eval.scorers.judge import JudgeConfig, LLMJudge

from ..chat_server import ChatServer


def judge_reply(body, text, sizes):
    if "Gold list:" in text:
        g = json.loads(re.search(r"Gold list: (.*)", text).group(1))
        p = json.loads(re.search(r"Model list: (.*)", text).group(1))
        return json.dumps({"matched": len({x.lower() for x in g} & {x.lower() for x in p})})
    g = re.search(r"Gold answer: (.*)", text).group(1).strip().lower()
    p = re.search(r"Model answer: (.*)", text).group(1).strip().lower()
    return 'Sure. {"correct": %s}' % ("true" if g == p else "false")


def test_binary_and_list_f1_with_cache(tmp_path):
    with ChatServer(reply=judge_reply) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"), cache=tmp_path / "cache.jsonl")
        assert j.score("Capital?", "Paris", "Reasoning...\nAnswer: paris", "String") == 1.0
        assert j.score("Capital?", "Paris", "Answer: Rome", "String") == 0.0
        # 1 of 2 gold matched, 1 of 3 predicted: P=1/3, R=1/2, F1=0.4
        assert j.score("Fruits?", '["apple", "pear"]', 'Answer: ["apple", "fig", "kiwi"]', "List") == \
            pytest.approx(0.4)
        assert j.score("Fruits?", '["apple"]', "Answer: []", "List") == 0.0
        n = len(srv.requests)
        j2 = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"), cache=tmp_path / "cache.jsonl")
        assert j2.score("Capital?", "Paris", "Answer: paris", "String") == 1.0
        assert len(srv.requests) == n  # from the cache
    assert len(srv.requests) == 3


def test_bad_judge_reply_is_an_error():
    with ChatServer(reply=lambda b, t, s: "I think so") as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        with pytest.raises(ValueError, match="not JSON"):
            j.score("q", "a", "Answer: a", "String")


def test_score_run_with_metric_and_judge(tmp_path):
    rows = [{"instance_id": f"i{k}", "dataset": "d", "kind": "doc", "task": "", "target_length": 8192, "depth": 0.5,
             "question": "q", "answer": "Blue Door", "answer_format": "String", "prediction": p, "error": ""}
            for k, p in enumerate(["Answer: the blue door", "Answer: Blue Dor", "Answer: red"])]
    rows.append({**rows[0], "instance_id": "err", "prediction": None, "error": "APITimeoutError"})
    (tmp_path / PREDICTIONS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = score_run(tmp_path, metric="anls", progress=False)
    # ANLS: "the blue door" vs "blue door" -> 1 - 4/13 = 0.692; "blue dor" -> 1 - 1/9; "red" -> 0 (below 0.5)
    assert s["doc"]["by_dataset"]["d"][8192] == pytest.approx(100 * ((1 - 4 / 13) + (1 - 1 / 9)) / 3, rel=1e-6)
    assert s["doc"]["errors"] == {8192: 1}
    assert score_run(tmp_path, metric="substring", progress=False)["doc"]["macro"][8192] == pytest.approx(100 / 3)
    with ChatServer(reply=judge_reply) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        s = score_run(tmp_path, judge=j, progress=False)
    assert s["metric"] == "judge" and s["doc"]["macro"][8192] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown metric"):
        score_run(tmp_path, metric="bleu", progress=False)


@pytest.mark.parametrize("verdict, score", [('"false"', 0.0), ('"no"', 0.0), ('"true"', 1.0), ("0", 0.0),
                                            ("1", 1.0), ("false", 0.0)])
def test_verdict_written_as_a_string_is_read_as_meant(verdict, score):
    with ChatServer(reply=lambda b, t, s: '{"correct": %s}' % verdict) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        assert j.score("q", "a", "Answer: b", "String") == score


def test_unreadable_verdict_is_an_error():
    with ChatServer(reply=lambda b, t, s: '{"correct": "maybe"}') as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        with pytest.raises(ValueError, match="verdict"):
            j.score("q", "a", "Answer: b", "String")


def test_a_trickling_judge_is_cut_at_the_request_deadline():
    import time

    import openai  # noqa: F401 - imported first, so the timing below measures the request

    from mmprolong.eval.scorers.judge import JudgeConfig, LLMJudge

    from ...synth.teacher_server import TeacherServer

    srv = TeacherServer()
    srv.default = ("trickle", '{"correct": true}', 1.0)   # a valid verdict, one byte per second
    try:
        judge = LLMJudge(JudgeConfig(base_url=srv.base_url, model="j", timeout=2, max_retries=0))
        t = time.monotonic()
        with pytest.raises(TimeoutError):
            judge.score("q?", "4", "Answer: 4", "String")
        assert time.monotonic() - t < 2 + 3
    finally:
        srv.close()
