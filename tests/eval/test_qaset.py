"""`eval build`'s QA file: a bad row is an error naming the file, the row and the field (it was a bare
"invalid literal for int()" or "QA row lacks 'answer'" for a null answer)."""

import json

import pytest

from mmprolong.eval.qaset import load_qa

GOOD = {"doc_id": "d1", "question": "How many?", "answer": "3", "answer_format": "Integer", "evidence_pages": [0]}


@pytest.mark.parametrize("bad, message", [
    ({"evidence_pages": [1, "t"]}, "line 2: evidence_pages: 't' is not a page number (in \"[1, 't']\")"),
    ({"evidence_pages": "3-5"}, "line 2: evidence_pages: '3-5' is not a page number"),
    ({"answer_format": "Numeric"}, "line 2: unknown answer_format 'Numeric'; use one of String, Integer"),
    ({"answer": None}, "line 2: answer is null"),
    ({"question": ""}, "line 2: question is empty"),
])
def test_a_bad_row_names_file_row_and_field(tmp_path, bad, message):
    f = tmp_path / "qa.jsonl"
    f.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, **bad}) + "\n")
    with pytest.raises(ValueError) as e:
        load_qa(f)
    assert str(e.value).startswith(f"{f}: " + message)


def test_missing_fields_bad_json_and_json_arrays_are_named(tmp_path):
    f = tmp_path / "qa.jsonl"
    f.write_text(json.dumps(GOOD) + "\n" + json.dumps({k: v for k, v in GOOD.items() if k != "answer"}) + "\n")
    with pytest.raises(ValueError, match=r"qa.jsonl: line 2: no field 'answer'; the row has \['answer_format'"):
        load_qa(f)
    f.write_text(json.dumps(GOOD) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"qa.jsonl:2:2: bad JSON"):
        load_qa(f)
    j = tmp_path / "qa.json"
    j.write_text(json.dumps([GOOD, {**GOOD, "evidence_pages": [2.5]}]))
    with pytest.raises(ValueError, match=r"qa.json: item 2: evidence_pages: 2.5 is not a page number"):
        load_qa(j)
    j.write_text(json.dumps([GOOD, {**GOOD, "evidence_pages": ["4"]}]))
    assert [i.evidence_pages for i in load_qa(j)] == [[0], [4]]
