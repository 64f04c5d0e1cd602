"""`--scorer mmlongbench` against MMLongBench's own rule-based doc-QA scorer.

data/mmlongbench_battery.jsonl: hand-written real-style golds of every format (MMLongBench-Doc, LongDocURL and
SlideVQA style) with prediction variants and the score MMLongBench's `eval_docqa_score` (after its `parse_output`)
gives each, written by bench/eval_scorer.py --write-fixture from the reference's own source.
"""

import json
from collections import defaultdict
from pathlib import Path

import pytest

from mmprolong.eval.scorers.docqa import extract_answer, is_not_answerable, parse_list, score_docqa
from mmprolong.eval.scorers.mmlongbench import check_gold, clean, item_format

BATTERY = Path(__file__).parent / "data" / "mmlongbench_battery.jsonl"


def test_battery_agrees_with_the_reference_per_format():
    rows = [json.loads(x) for x in BATTERY.read_text().splitlines()]
    agree, total = defaultdict(int), defaultdict(int)
    for r in rows:
        assert not isinstance(r["reference"], str), r
        total[r["answer_format"]] += 1
        agree[r["answer_format"]] += score_docqa(r["pred"], r["gold"], r["answer_format"]) == r["reference"]
    assert set(total) == {"Integer", "Float", "String", "List", "None"}
    for fmt in total:
        assert agree[fmt] / total[fmt] >= 0.995, (fmt, agree[fmt], total[fmt])


@pytest.mark.parametrize("resp,want", [
    ("The chart shows growth.\nAnswer: 42", "42"),
    ("answer: answer:  Paris ", "Paris"),          # a repeated prefix is dropped once
    ("Answer: first\nAnswer: second", "first\nAnswer: second"),   # the FIRST "Answer:" (as MMLongBench)
    ("Paris", "Paris"),
    (None, ""),
])
def test_extract_answer_as_mmlongbench(resp, want):
    assert extract_answer(resp) == want


@pytest.mark.parametrize("pred,gold,fmt,score", [
    ("Answer: Based on page 3, the count is 8", "8", "Integer", 1.0),       # any number counts
    ("Answer: 5 (the exact figure is not mentioned)", "5", "Int", 1.0),
    ("Answer: 1,200 people", "1200", "Integer", 1.0),
    ("Answer: 12.5", "12", "Integer", 0.0),
    ("Answer: twelve", "12", "Integer", 0.0),
    ("Answer: 25%", "0.25", "Float", 1.0),
    ("Answer: 0.1829", "18.29%", "Float", 1.0),
    ("Answer: 24.7", "25", "Float", 0.0),
    ("Answer: the United States", "United States", "String", 1.0),
    ("Answer: United Kingdom", "United States", "Str", 0.5),
    ("Answer: see train.py", "train.py", "String", 1.0),
    ("Answer: see Train.py", "train.py", "String", 0.0),                     # exact forms are case-sensitive
    ("Answer: 2019-03-13", "2019-03-12", "String", 0.0),
    ("Answer: Not answerable.", "Not answerable", "None", 1.0),
    ("Answer: The document does not say", "Not answerable", "None", 2 * (1 / 4) * (1 / 2) / (1 / 4 + 1 / 2)),
    ("Answer: Circle, Rectangle", '["Circle", "Rectangle"]', "List", 1.0),  # strings merged, F1 on the answer
    ("Answer: [1500, 8000]", "[1500, 8000]", "List", 1.0),
    ("Answer: [1500]", "[1500, 8000]", "List", 0.5),
    # a Python-literal gold is read too; "White" is F1 against the whole answer ("white 10"), 10% a number
    ("Answer: ['White', '10%']", "['White', '10%']", "List", (2 * (1 / 2) * 1 / (1 / 2 + 1) + 1.0) / 2),
])
def test_rules(pred, gold, fmt, score):
    assert score_docqa(pred, gold, fmt) == score      # same float64 arithmetic as the reference


def test_strict_variant_is_separate_and_documented():
    assert score_docqa("Answer: 3, 5 or 8", "5", "Integer") == 1.0
    assert score_docqa("Answer: 3, 5 or 8", "5", "Integer", scorer="mmlongbench-strict") == 0.0
    assert score_docqa("Answer: Page 12", "page 12", "String", scorer="mmlongbench-strict") == 1.0
    with pytest.raises(ValueError, match="scorer"):
        score_docqa("x", "x", "String", scorer="nope")


def test_cleaning_and_item_types():
    assert clean(" $1,200 ") == "1200" and clean("7 miles") == "7" and clean("'45%'") == "45"
    assert [item_format(x) for x in (5, 0.5, "12%", "1,000", "Paris", True)] == \
        ["Integer", "Float", "Float", "Integer", "String", "String"]


def test_golds_the_reference_cannot_score_are_named():
    assert check_gold("yes", "Integer") and check_gold("3.5", "Int") and check_gold("[]", "List")
    assert check_gold("92", "List") and check_gold("x", "Float")
    assert check_gold("8", "Integer") is None and check_gold("['a']", "List") is None
    with pytest.raises(ValueError, match="answer_format"):
        score_docqa("x", "x", "Bool")


def test_helpers():
    assert is_not_answerable("Not answerable.") and not is_not_answerable("5 (not answerable otherwise)")
    assert parse_list("['a', 'b']") == ["a", "b"] and parse_list("1,200; 3") == ["1,200", "3"]
