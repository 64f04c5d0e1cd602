import pytest

from mmprolong.eval.scorers.metrics import accuracy, anls, mc_accuracy, substring_exact_match


def test_anls():
    assert anls("Answer: Paris", "paris") == 1.0
    assert anls("Answer: Pariz", "Paris") == pytest.approx(0.8)       # 1 edit in 5
    assert anls("Answer: London", "Paris") == 0.0                      # below 0.5 -> 0
    assert anls("Answer: Pariz", ["Rome", "Paris"]) == pytest.approx(0.8)


def test_substring_exact_match():
    assert substring_exact_match("The secret code is 4721.", "4721") == 1.0
    assert substring_exact_match("The secret code is 47210.", "4721") == 0.0
    assert substring_exact_match("It was The Blue Door!", ["blue door"]) == 1.0


def test_accuracy():
    assert accuracy("Answer: The Blue Door.", "blue door") == 1.0
    assert accuracy("Answer: blue doors", "blue door") == 0.0


@pytest.mark.parametrize("pred,gold,s", [
    ("B", "B", 1.0), ("(C) the third", "C", 1.0), ("Answer: D.", "D", 1.0), ("The answer is A", "A", 1.0),
    ("Answer: B", "(b)", 1.0), ("A dog", "B", 0.0), ("I think it's C", "A", 0.0),
])
def test_mc_accuracy(pred, gold, s):
    assert mc_accuracy(pred, gold) == s
