import pytest

from mmprolong.eval.aggregate import aggregate


def test_macro_and_overall_as_the_paper():
    rows = [
        {"dataset": "A", "target_length": 64, "score": 1.0}, {"dataset": "A", "target_length": 64, "score": 0.0},
        {"dataset": "B", "target_length": 64, "score": 1.0},
        {"dataset": "A", "target_length": 128, "score": 0.0}, {"dataset": "B", "target_length": 128, "score": 0.5},
        {"dataset": "A", "target_length": 256, "score": 1.0},
        {"dataset": "B", "target_length": 128, "score": None},  # backend error: left out, counted
    ]
    agg = aggregate(rows, lengths=[64, 128])
    assert agg["by_dataset"]["A"][64] == 50.0 and agg["by_dataset"]["B"][64] == 100.0
    assert agg["macro"][64] == 75.0 and agg["macro"][128] == 25.0 and agg["macro"][256] == 100.0
    assert agg["overall"] == pytest.approx(50.0) and agg["overall_lengths"] == [64, 128]
    assert agg["errors"] == {128: 1} and agg["n"]["B"][128] == 1
    assert aggregate(rows)["overall"] == pytest.approx(200 / 3)
    assert aggregate(rows, lengths=[64, 512])["missing_lengths"] == [512]
