import json

import pytest

from mmprolong.synth import GenerationError
from mmprolong.synth.reply import parse_reply

OK = {"question": "On page 3, what?", "answer": ["a", 2], "answer_format": "list", "evidence": "e",
      "evidence_pages": ["Page 3", 5], "evidence_sources": ["text", "Chart"]}


def test_pages_to_zero_based_and_normalised_fields():
    [qa] = parse_reply("Here you go:\n" + json.dumps(OK) + "\nThanks", "d", (2, 6), "extract-multi", "openai:m")
    assert qa.evidence_pages == [2, 4] and qa.answer == '["a", "2"]' and qa.answer_format == "List"
    assert qa.evidence_sources == ["Figure", "Text"]


def test_several_items_and_fences():
    two = parse_reply("```json\n" + json.dumps({"qa": [OK, OK]}) + "\n```", "d", (2, 6), "extract-multi", "g")
    assert len(two) == 2


@pytest.mark.parametrize("content, reason", [
    ("no json at all", "malformed_json"),
    ("[1, 2]", "malformed_json"),
    (json.dumps({**OK, "question": ""}), "missing_field"),
    (json.dumps({**OK, "answer_format": "Date"}), "bad_answer_format"),
    (json.dumps({**OK, "evidence_pages": ["three"]}), "bad_evidence_pages"),
])
def test_rejections(content, reason):
    with pytest.raises(GenerationError) as e:
        parse_reply(content, "d", (2, 6), "extract-single", "g")
    assert e.value.reason == reason


def test_calculation_becomes_calc_line():
    r = {**OK, "answer": 3, "answer_format": "Integer",
         "calculation": {"operation": "count_gt", "operands": [{"label": "a", "value": "1,000"},
                                                               {"label": "b", "value": 5}], "threshold": 2}}
    [qa] = parse_reply(json.dumps(r), "d", (2, 6), "reasoning", "g")
    assert qa.evidence.endswith("calc: count_gt[2](a=1000; b=5)")
    with pytest.raises(GenerationError, match="bad_calculation"):
        parse_reply(json.dumps({**r, "calculation": {"operation": "median", "operands": []}}), "d", (2, 6),
                    "reasoning", "g")


def test_calculation_operand_pages_are_kept():
    r = {**OK, "answer": 2060, "answer_format": "Integer",
         "calculation": {"operation": "difference", "operands": [{"label": "N", "value": 4210, "page": 3},
                                                                 {"label": "S", "value": 2150, "page": "Page 5"}]}}
    [qa] = parse_reply(json.dumps(r), "d", (2, 6), "reasoning", "g")
    assert qa.evidence.endswith("calc: difference(N@p3=4210; S@p5=2150)")
    from mmprolong.synth.calc import parse_calc
    assert parse_calc(qa.evidence).pages == [3, 5]
