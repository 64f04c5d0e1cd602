"""Needles scored as MMLongBench scores MM-NIAH: counting by the sum of the counted list (no partial credit),
retrieval and reasoning by substring match; each on the raw response and on its answer part."""

import pytest

from mmprolong.eval.scorers.needle import count_list, score_needle


@pytest.mark.parametrize("resp,score", [
    ("Answer: [3, 5, 7]", 1.0),
    ("Answer: [3, 5, 8]", 0.0),          # one count wrong: no partial credit
    ("Answer: [3, 5]", 0.0),             # one missing
    ("Answer: [7, 5, 3]", 1.0),          # MMLongBench compares sums
    ("The penguin counted 3, then 5, then 7 apples.", 1.0),
    ("Answer: three, five, seven", 0.0),
])
def test_counting_is_exact(resp, score):
    assert score_needle(resp, "[3, 5, 7]", "counting") == score


def test_count_list_prefers_the_last_digit_list():
    assert count_list("first [1, 2] then finally [3, 5, 7]") == [3, 5, 7]
    assert count_list('["3", "x", 5]') == [3, 5]


def test_retrieval_substring():
    assert score_needle("Answer: The secret number is 4721.", "4721", "retrieval") == 1.0
    assert score_needle("Answer: 4712", "4721", "retrieval") == 0.0
