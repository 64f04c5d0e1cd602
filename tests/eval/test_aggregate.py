import pytest

from mmprolong.eval.aggregate import aggregate


def rows():
    return [
        {"dataset": "A", "target_length": 65536, "score": 1.0}, {"dataset": "A", "target_length": 65536, "score": 0.0},
        {"dataset": "B", "target_length": 65536, "score": 1.0},
        {"dataset": "A", "target_length": 131072, "score": 0.0}, {"dataset": "B", "target_length": 131072, "score": 0.5},
        {"dataset": "A", "target_length": 262144, "score": 1.0},
        {"dataset": "B", "target_length": 131072, "score": None, "prediction": None, "error": "APITimeoutError"},
    ]


def test_errors_score_zero_and_are_counted():
    agg = aggregate(rows())
    assert agg["by_dataset"]["A"][65536] == 50.0 and agg["by_dataset"]["B"][65536] == 100.0
    assert agg["by_dataset"]["B"][131072] == 25.0          # (0.5 + 0 for the failed request) / 2
    assert agg["n"]["B"][131072] == 2 and agg["errors_by_dataset"]["B"][131072] == 1
    assert agg["errors"] == {131072: 1} and agg["errors_total"] == 1 and agg["n_total"] == 7


def test_overall_is_the_mean_of_64k_and_128k_by_default():
    agg = aggregate(rows())
    assert agg["macro"][65536] == 75.0 and agg["macro"][131072] == 12.5 and agg["macro"][262144] == 100.0
    assert agg["overall_lengths"] == [65536, 131072] and agg["overall"] == (75.0 + 12.5) / 2
    assert aggregate(rows(), lengths=[65536, 131072, 262144])["overall"] == pytest.approx((75 + 12.5 + 100) / 3)
    assert agg["datasets_missing"] == {262144: ["B"]}


def test_overall_refused_when_a_length_is_missing():
    only64 = [r for r in rows() if r["target_length"] == 65536]
    agg = aggregate(only64)
    assert agg["overall"] is None and agg["missing_lengths"] == [131072]
