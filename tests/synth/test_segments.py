import random

import pytest

from mmprolong.synth import choose_segment

from .docs import make_doc


def _doc(n, starts):
    return make_doc(["x"] * n, [(s, f"S{s}") for s in starts])


def test_segment_is_whole_sections_within_bounds():
    doc = _doc(60, [0, 5, 9, 14, 22, 30, 34, 41, 50, 55])
    starts = {0, 5, 9, 14, 22, 30, 34, 41, 50, 55}
    ends = {s - 1 for s in starts} | {59}
    for seed in range(30):
        a, b = choose_segment(doc, random.Random(seed))
        assert 8 <= b - a + 1 <= 15 and a in starts and b in ends


def test_deterministic_for_seed():
    doc = _doc(60, [0, 5, 9, 14, 22, 30, 34, 41, 50, 55])
    assert choose_segment(doc, random.Random(3)) == choose_segment(doc, random.Random(3))


def test_falls_back_to_page_window_without_usable_sections():
    for doc in (_doc(50, []), _doc(50, [0, 30])):  # no sections; sections of 30 and 20 pages
        for seed in range(10):
            a, b = choose_segment(doc, random.Random(seed))
            assert 8 <= b - a + 1 <= 15 and 0 <= a <= b < 50


def test_short_document_is_one_segment():
    assert choose_segment(_doc(5, [0, 2]), random.Random(0)) == (0, 4)
    assert choose_segment(_doc(8, []), random.Random(0)) == (0, 7)


def test_bad_bounds():
    with pytest.raises(ValueError, match="min_pages"):
        choose_segment(_doc(20, []), random.Random(0), min_pages=10, max_pages=5)
