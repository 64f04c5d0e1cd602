import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import write_shards
from mmprolong import schema
from mmprolong.train.data import RowReader, ShardIndex, find_shards, next_packs


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("shards"), 20, per_file=8)


def test_order_is_deterministic_per_seed_and_covers_each_epoch(shards):
    a, b, c = (ShardIndex(shards, 4096, seed) for seed in (1, 1, 2))
    order = [a.at(i)[0] for i in range(20)]
    assert order == [b.at(i)[0] for i in range(20)]
    assert order != [c.at(i)[0] for i in range(20)]
    assert len(set(order)) == 20  # a permutation of the epoch
    assert [a.at(20 + i)[0] for i in range(20)] != order and len({a.at(20 + i)[0] for i in range(20)}) == 20


def test_packs_respect_max_length_and_resume_exactly(shards):
    idx = ShardIndex(shards, 300, 0)
    packs, pos = next_packs(idx, 0, 6, 300)
    assert all(sum(idx.at(p)[1] for p in pk) <= 300 for pk in packs)
    flat = [p for pk in packs for p in pk]
    assert flat == list(range(pos))  # nothing skipped, nothing duplicated
    first, mid = next_packs(idx, 0, 3, 300)
    rest, end = next_packs(idx, mid, 3, 300)
    assert first + rest == packs and end == pos


def test_too_long_sample_is_a_build_time_error(shards):
    with pytest.raises(ValueError, match="never cut"):
        ShardIndex(shards, 20, 0)


def test_rows_and_bad_input(shards, tmp_path):
    idx = ShardIndex(shards, 4096, 0)
    ref, n = idx.at(3)
    row = RowReader(shards).row(ref)
    assert row["n_tokens"] == n and row["images"]
    assert find_shards([str(shards[0].parent)]) == sorted(shards)
    with pytest.raises(FileNotFoundError):
        find_shards([str(tmp_path / "none*.parquet")])
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"x": [1]}), bad)
    with pytest.raises(ValueError, match="not a training shard"):
        ShardIndex([bad], 4096, 0)
    assert "n_tokens" in schema.SAMPLES.names


def test_step_count_spends_the_token_budget_on_real_packs(shards):
    """Packs are never full (whole samples only), so budget / nominal batch under-trains; the step count must be
    the first at which the packed tokens reach optim.total_tokens."""
    from mmprolong.train.config import parse_config
    from mmprolong.train.loop import planned_steps

    cfg = parse_config({"model": {"preset": "tiny-qwen2.5-vl"}, "data": {"max_length": 300},
                        "optim": {"tokens_per_step": 600, "total_tokens": 5000}})
    idx = ShardIndex(shards, 300, 0)

    def spent(steps):
        pos, total = 0, 0
        for _ in range(steps):
            packs, pos = next_packs(idx, pos, cfg.sequences_per_step(), 300)
            total += sum(idx.at(p)[1] for pk in packs for p in pk)
        return total

    assert spent(cfg.total_steps()) < 5000  # the nominal count falls short of the budget
    n = planned_steps(cfg, idx)
    assert spent(n) >= 5000 > spent(n - 1)
    cfg.optim.steps = 3
    assert planned_steps(cfg, idx) == 3  # an explicit count wins
