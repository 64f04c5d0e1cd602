import pytest

from mmprolong.eval.scorers.docqa import extract_answer, parse_list, score_docqa, token_f1


@pytest.mark.parametrize("resp,want", [
    ("The chart shows growth.\nAnswer: 42", "42"),
    ("answer: first\nAnswer:  **Paris** ", "Paris"),
    ("Paris", "Paris"),
])
def test_extract_answer(resp, want):
    assert extract_answer(resp) == want


@pytest.mark.parametrize("pred,gold,fmt,score", [
    # integers: exact
    ("Answer: 12", "12", "Integer", 1.0),
    ("Answer: 12 people", "12", "Integer", 1.0),
    ("Answer: 1,200", "1200", "Integer", 1.0),
    ("Answer: 13", "12", "Integer", 0.0),
    ("Answer: 12.5", "12", "Integer", 0.0),
    ("Answer: twelve", "12", "Integer", 0.0),
    # floats: 1% relative, x100 for percentages
    ("Answer: 3.14", "3.1416", "Float", 1.0),
    ("Answer: 3.2", "3.1416", "Float", 0.0),
    ("Answer: 25%", "0.25", "Float", 1.0),
    ("Answer: 0.25", "25", "Float", 1.0),
    ("Answer: 24.8", "25", "Float", 1.0),
    ("Answer: 24.7", "25", "Float", 0.0),
    ("Answer: -5.0", "-5", "Float", 1.0),
    # strings: F1, containment for URLs / dates / similar
    ("Answer: the United States", "United States", "String", 1.0),
    ("Answer: United Kingdom", "United States", "String", 0.5),
    ("Answer: It is at https://www.example.com/report.", "https://www.example.com/report", "String", 1.0),
    ("Answer: www.example.org", "https://www.example.com/report", "String", 0.0),
    ("Answer: on 2019-03-12", "2019-03-12", "String", 1.0),
    ("Answer: 2019-03-13", "2019-03-12", "String", 0.0),
    ("Answer: March 12, 2019", "March 12, 2019", "String", 1.0),
    ("Answer: write to info@acme.com", "info@acme.com", "String", 1.0),
    # not answerable
    ("Answer: Not answerable", "Not answerable", "None", 1.0),
    ("Answer: The document does not say; not answerable.", "Not answerable", "None", 1.0),
    ("Answer: 12", "Not answerable", "None", 0.0),
    ("Answer: Not answerable", "12", "Integer", 0.0),
    # lists: item by item, missing and extra items cost
    ('Answer: ["apple", "pear"]', '["pear", "apple"]', "List", 1.0),
    ("Answer: apple, pear", '["apple", "pear"]', "List", 1.0),
    ('Answer: ["apple"]', '["apple", "pear"]', "List", 0.5),
    ('Answer: ["apple", "pear", "fig", "kiwi"]', '["apple", "pear"]', "List", 0.5),
    ("Answer: [3, 5.01]", "[3, 5.0]", "List", 1.0),
    ("Answer: [3, 5.01]", "[3, 5]", "List", 0.5),  # integer items are exact
    ("Answer: [4, 5]", "['3', '5']", "List", 0.5),
    ("Answer: []", '["a"]', "List", 0.0),
])
def test_rules(pred, gold, fmt, score):
    assert score_docqa(pred, gold, fmt) == pytest.approx(score)


def test_token_f1_and_lists():
    assert token_f1("a red car", "red car") == 1.0
    assert token_f1("", "x") == 0.0
    assert parse_list("1,200; 3 and 4") == ["1,200", "3", "4"]
    assert parse_list("['a', 'b']") == ["a", "b"]


def test_unknown_format_is_an_error():
    with pytest.raises(ValueError, match="answer_format"):
        score_docqa("x", "x", "Bool")
