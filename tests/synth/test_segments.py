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


def _leveled(n, secs):
    doc = make_doc(["x"] * n)
    doc.sections = [{"first_page": f, "level": lv, "heading": f"S{f}"} for f, lv in secs]
    return doc


def test_level_zero_is_top_level_and_whole_top_sections_come_first():
    # top-level chapters at 0, 12, 24 (12 pages each); subsections every 3 pages inside them at level 1
    secs = [(c, 0) for c in (0, 12, 24)] + [(c + k, 1) for c in (0, 12, 24) for k in (3, 6, 9)]
    doc = _leveled(36, secs)
    for seed in range(20):
        assert choose_segment(doc, random.Random(seed)) in {(0, 11), (12, 23), (24, 35)}


def test_levels_one_and_deeper_are_not_merged_with_level_zero():
    # level 0 chapters too long; level 1 runs fit; level 2 entries must not cut the level-1 spans
    secs = [(0, 0), (30, 0)] + [(c, 1) for c in (0, 10, 20, 30, 40, 50)] + [(c + 4, 2) for c in (0, 10, 20, 30)]
    doc = _leveled(60, secs)
    for seed in range(20):
        a, b = choose_segment(doc, random.Random(seed))
        assert a % 10 == 0 and (b + 1) % 10 == 0


def test_avoid_gives_another_segment():
    doc = _doc(60, [0, 5, 9, 14, 22, 30, 34, 41, 50, 55])
    first = choose_segment(doc, random.Random(1))
    assert choose_segment(doc, random.Random(1), avoid={first}) != first
    nosec = _doc(50, [])
    w = choose_segment(nosec, random.Random(2))
    assert choose_segment(nosec, random.Random(2), avoid={w}) != w
