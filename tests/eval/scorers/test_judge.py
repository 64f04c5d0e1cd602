import json
import re

import pytest

from mmprolong.eval.runner import PREDICTIONS
from mmprolong.eval.score import score_run
from mmprolong.eval.scorers.judge import JudgeConfig, LLMJudge

from ..chat_server import ChatServer


def judge_reply(body, text, sizes):
    """A judge following the v1.1 output formats: score line + JSON, or list counts."""
    if "Reference list:" in text:
        g = json.loads(re.search(r"Reference list: (.*)", text).group(1))
        p = json.loads(re.search(r"Student answer: (.*)", text).group(1))
        k = len({x.lower() for x in g} & {x.lower() for x in p})
        return f'Rationale.\n[JSON]: {{"student_answer_count": {len(p)}, "covered_count": {k}}}'
    g = re.search(r"Reference answer: (.*)", text).group(1).strip().lower()
    p = re.search(r"Student answer: (.*)", text).group(1).strip().lower()
    x = int(g == p)
    return f'They match or not.\n[Score]: {x} points\n[JSON]: {{"answer_score": {x}}}'


def test_binary_and_list_f1_with_cache(tmp_path):
    with ChatServer(reply=judge_reply) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"), cache=tmp_path / "cache.jsonl")
        assert j.score("Capital?", "Paris", "Reasoning...\nAnswer: paris", "String") == 1.0
        assert j.score("Capital?", "Paris", "Answer: Rome", "String") == 0.0
        # 1 of 2 gold matched, 1 of 3 predicted: P=1/3, R=1/2, F1=0.4
        assert j.score("Fruits?", '["apple", "pear"]', 'Answer: ["apple", "fig", "kiwi"]', "List") == \
            pytest.approx(0.4)
        assert j.score("Fruits?", '["apple"]', "Answer: []", "List") == 0.0
        assert j.describe() == {"judge_model": "judge", "judge_prompt": "v1.1"}
        n = len(srv.requests)
        j2 = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"), cache=tmp_path / "cache.jsonl")
        assert j2.score("Capital?", "Paris", "Answer: paris", "String") == 1.0
        assert len(srv.requests) == n  # from the cache
    assert len(srv.requests) == 4


def test_unreadable_reply_scores_zero_counted_and_not_cached(tmp_path):
    with ChatServer(reply=lambda b, t, s: "I think so") as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"), cache=tmp_path / "c.jsonl")
        assert j.score("q", "a", "Answer: a", "String") == 0.0
        assert j.score("q", "a", "Answer: a", "String") == 0.0
        assert j.unreadable == 2 and len(srv.requests) == 2
    assert not (tmp_path / "c.jsonl").exists()


def test_prompt_version_is_in_the_cache_key():
    from mmprolong.eval.scorers import judge as jm
    with ChatServer(reply=judge_reply) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        k1 = j.key("q", "a", "a", "String")
        old, jm.PROMPT_VERSION = jm.PROMPT_VERSION, "v9"
        try:
            assert j.key("q", "a", "a", "String") != k1
        finally:
            jm.PROMPT_VERSION = old


@pytest.mark.parametrize("reply,score", [
    ("[Score]: 1 point\n[JSON]: {\"answer_score\": 0}", 1.0),   # the score line wins
    ("blah [JSON]: {\"answer_score\": 1}", 1.0),
    ("[Score]: 0 points", 0.0),
    ("[Score]: 3 points", 1.0),                                  # binary
])
def test_single_reply_formats(reply, score):
    from mmprolong.eval.scorers.judge import read_single
    assert read_single(reply) == score


def test_list_f1_clipped_and_zero_cases():
    from mmprolong.eval.scorers.judge import read_list
    assert read_list('[JSON]: {"student_answer_count": 3, "covered_count": 2}', 2) == 2 * (2 / 3) * 1 / (2 / 3 + 1)
    assert read_list('[JSON]: {"student_answer_count": 1, "covered_count": 3}', 2) == 1.0
    assert read_list('[JSON]: {"student_answer_count": 0, "covered_count": 0}', 2) == 0.0
    assert read_list("nothing", 2) is None


def test_score_run_with_metric_and_judge(tmp_path):
    rows = [{"instance_id": f"i{k}", "dataset": "d", "kind": "doc", "task": "", "target_length": 8192, "depth": 0.5,
             "question": "q", "answer": "Blue Door", "answer_format": "String", "prediction": p, "error": ""}
            for k, p in enumerate(["Answer: the blue door", "Answer: Blue Dor", "Answer: red"])]
    rows.append({**rows[0], "instance_id": "err", "prediction": None, "error": "APITimeoutError"})
    (tmp_path / PREDICTIONS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = score_run(tmp_path, metric="anls", progress=False)
    # ANLS: "the blue door" vs "blue door" -> 1 - 4/13 = 0.692; "blue dor" -> 1 - 1/9; "red" -> 0 (below 0.5)
    # the failed request scores 0 and is counted: mean over 4
    assert s["doc"]["by_dataset"]["d"][8192] == pytest.approx(100 * ((1 - 4 / 13) + (1 - 1 / 9)) / 4, rel=1e-12)
    assert s["doc"]["errors"] == {8192: 1} and s["doc"]["n"]["d"][8192] == 4
    assert score_run(tmp_path, metric="substring", progress=False)["doc"]["macro"][8192] == pytest.approx(100 / 4, rel=1e-12)
    with ChatServer(reply=judge_reply) as srv:
        j = LLMJudge(JudgeConfig(base_url=srv.url, model="judge"))
        s = score_run(tmp_path, judge=j, progress=False)
    assert s["metric"] == "judge:judge:v1.1" and s["doc"]["macro"][8192] == 0.0
    with pytest.raises(ValueError, match="unknown metric"):
        score_run(tmp_path, metric="bleu", progress=False)



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
