"""Weighted data sources (data.sources): token shares, whole samples, determinism, exact resume, config errors."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import chat, write_shards
from mmprolong import schema
from mmprolong.tokens import load
from mmprolong.train.config import parse_config
from mmprolong.train.data import DataStream, ShardIndex, next_packs


def _write(folder, n, n_images, seed, per_file=16):
    """Shards whose samples have `n_images(i)` images: long (many pages) or short (one image) samples."""
    counter = load("qwen2.5-vl")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        messages, images = chat(seed * 1000 + i, n_images=n_images(i))
        c = counter.count_messages(messages)
        rows.append(dict(sample_id=f"{folder.name}{i:04d}", doc_id="", qa_id="", task="t", pages=[],
                         messages=json.dumps(messages), images=images,
                         image_sizes=[[p["width"], p["height"]] for p in messages[0]["content"]
                                      if p["type"] == "image"],
                         max_pixels=counter.max_pixels, target="", n_tokens=c.total, n_image_tokens=c.image_tokens,
                         depth=None, bucket="", recipe_hash=""))
    for j in range(0, n, per_file):
        pq.write_table(pa.Table.from_pylist(rows[j:j + per_file], schema=schema.SAMPLES),
                       folder / f"part-{j // per_file:05d}.parquet", row_group_size=8)
    return folder


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    root = tmp_path_factory.mktemp("pools")
    return {"long": _write(root / "long", 48, lambda i: 4 + i % 5, seed=1),
            "short": _write(root / "short", 30, lambda i: i % 2, seed=2),
            "mid": _write(root / "mid", 20, lambda i: 2, seed=3)}


def _data(pools, weights, max_length=1024, seed=0):
    cfg = parse_config({"model": {"preset": "tiny-qwen2.5-vl"},
                        "data": {"max_length": max_length, "seed": seed,
                                 "sources": [{"name": n, "shards": [str(pools[n])], "weight": w}
                                             for n, w in weights.items()]}})
    return cfg, DataStream.from_config(cfg.data)


def _run(stream, steps, seqs, state=None):
    state = stream.initial_state() if state is None else state
    out = []
    for _ in range(steps):
        packs, state = stream.next_packs(state, seqs)
        out.append(packs)
    return out, state


def test_realised_token_shares_are_within_one_point_of_the_weights(pools):
    for weights in ({"long": 60, "short": 40}, {"long": 0.2, "short": 0.5, "mid": 0.3}):
        _, stream = _data(pools, weights)
        steps, _ = _run(stream, 60, 4)
        per_step = [stream.tokens_by_source(p) for p in steps]
        total = {n: sum(s[n] for s in per_step) for n in weights}
        all_tokens = sum(total.values())
        wsum = sum(weights.values())
        for n, w in weights.items():
            assert abs(total[n] / all_tokens - w / wsum) < 0.01, (n, total)
        # every step holds the sources in proportion too, to within about one longest sample
        biggest = max(it.n_tokens for pk in steps for p in pk for it in p)
        for s in per_step:
            tot = sum(s.values())
            assert all(abs(s[n] / tot - w / wsum) <= 2 * biggest / tot for n, w in weights.items())


def test_packs_hold_whole_samples_in_each_sources_order(pools):
    _, stream = _data(pools, {"long": 60, "short": 40}, max_length=900)
    steps, state = _run(stream, 25, 3)
    seen = {0: [], 1: []}
    for packs in steps:
        assert len(packs) == 3
        for pk in packs:
            assert pk and sum(it.n_tokens for it in pk) <= 900
            for it in pk:
                ref, n = stream.indexes[it.source].at(it.position)
                assert (ref, n) == (it.ref, it.n_tokens)
                seen[it.source].append(it.position)
    for k in (0, 1):  # nothing skipped, nothing taken twice; the short source wrapped into further epochs
        assert seen[k] == list(range(len(seen[k]))) == list(range(state["positions"][k]))
    assert state["positions"][1] > stream.indexes[1].epoch_size
    assert state["tokens"] == [sum(it.n_tokens for p in steps for pk in p for it in pk if it.source == k)
                               for k in (0, 1)]
    assert stream.epochs(state)["short"] > 1


def test_same_seed_same_packs_other_seed_other_packs(pools):
    key = lambda steps: [[[(it.source, it.position, it.ref) for it in pk] for pk in p] for p in steps]  # noqa: E731
    a = key(_run(_data(pools, {"long": 3, "short": 2}, seed=7)[1], 6, 2)[0])
    b = key(_run(_data(pools, {"long": 3, "short": 2}, seed=7)[1], 6, 2)[0])
    c = key(_run(_data(pools, {"long": 3, "short": 2}, seed=8)[1], 6, 2)[0])
    assert a == b and a != c


def test_resume_from_a_saved_state_reproduces_the_uninterrupted_sequence(pools):
    _, stream = _data(pools, {"long": 60, "short": 40})
    whole, end = _run(stream, 12, 4)
    first, mid = _run(stream, 5, 4)
    saved = json.loads(json.dumps({"position": mid}))["position"]  # as a checkpoint's meta.json holds it
    _, fresh = _data(pools, {"long": 60, "short": 40})  # a new process: new indexes, new readers
    rest, end2 = _run(fresh, 7, 4, fresh.restore(saved))
    assert first + rest == whole and end2 == end
    with pytest.raises(ValueError, match="does not fit data sources"):
        fresh.restore(3)


def test_single_shards_form_keeps_the_old_order(pools):
    cfg = parse_config({"model": {"preset": "tiny-qwen2.5-vl"},
                        "data": {"shards": [str(pools["long"])], "max_length": 1024, "seed": 5}})
    stream = DataStream.from_config(cfg.data)
    assert stream.initial_state() == 0 and stream.names == ["shards"]
    packs, pos = stream.next_packs(0, 5)
    index = ShardIndex(stream.indexes[0].files, 1024, 5)
    old, old_pos = next_packs(index, 0, 5, 1024)
    assert [[it.position for it in pk] for pk in packs] == old and pos == old_pos


def test_config_errors_name_the_key(pools):
    base = {"model": {"preset": "tiny-qwen2.5-vl"}}
    with pytest.raises(ValueError, match=r"data\.sources\.0\.wieght: unknown key"):
        parse_config({**base, "data": {"sources": [{"shards": ["x"], "wieght": 1}]}})
    with pytest.raises(ValueError, match=r"data\.sources\.1\.weight"):
        parse_config({**base, "data": {"sources": [{"shards": ["x"], "weight": 1}, {"shards": ["y"], "weight": 0}]}})
    with pytest.raises(ValueError, match="not both"):
        parse_config({**base, "data": {"shards": ["x"], "sources": [{"shards": ["y"], "weight": 1}]}})
    with pytest.raises(ValueError, match="duplicate source names"):
        parse_config({**base, "data": {"sources": [{"name": "a", "shards": "x", "weight": 1},
                                                   {"name": "a", "shards": "y", "weight": 1}]}})
    cfg = parse_config({**base, "data": {"sources": [{"shards": "x", "weight": 3}, {"shards": ["y"], "weight": 1}]}})
    assert cfg.data.mixture() == [("source0", ["x"], 0.75), ("source1", ["y"], 0.25)]


def _train_cfg(pools, out, steps=4):
    return parse_config({
        "model": {"preset": "tiny-qwen2.5-vl", "dtype": "fp32"},
        "data": {"max_length": 400, "sources": [{"name": "long", "shards": [str(pools["long"])], "weight": 0.6},
                                                {"name": "short", "shards": [str(pools["short"])], "weight": 0.4}]},
        "optim": {"tokens_per_step": 800, "steps": steps, "lr": 2e-3, "min_lr": 2e-4},
        "parallel": {"loss_chunk": 64, "grad_checkpointing": False}, "output_dir": str(out), "save_every": 2,
        "export": False})


def test_training_on_a_mixture_logs_tokens_per_source_and_resumes_exactly(pools, tmp_path):
    from mmprolong.train.loop import train
    from mmprolong.train.report import source_shares, write_report

    whole = tmp_path / "whole"
    train(_train_cfg(pools, whole), progress=False)
    cut = tmp_path / "cut"
    s = train(_train_cfg(pools, cut), stop_after=3, progress=False)  # "killed" after step 3; checkpoint at 2
    assert s["step"] == 3 and not s["finished"]
    train(_train_cfg(pools, cut), progress=False)
    rows = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    again = [json.loads(x) for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in again] == [r["loss"] for r in rows]
    assert [r["source_tokens"] for r in again] == [r["source_tokens"] for r in rows]
    assert [r["position"] for r in again] == [r["position"] for r in rows]
    for r in rows:
        assert set(r["source_tokens"]) == {"long", "short"} and sum(r["source_tokens"].values()) == r["tokens"]
    md = write_report(whole, rows, _train_cfg(pools, whole)).read_text()
    assert "| long | 60.0% |" in md and "tokens short |" in md
    assert set(source_shares(rows)) == {"long", "short"}


def test_shipped_long_short_config_beside_the_paper_one():
    from pathlib import Path

    from mmprolong.train.config import load_config

    root = Path(__file__).parents[2] / "src/mmprolong/recipes/train"
    paper = load_config(root / "qwen2.5-vl-7b-128k.yaml")
    mix = load_config(root / "qwen2.5-vl-7b-128k-long60-short40.yaml")
    assert paper.data.mixture() == [("shards", ["data/shards"], 1.0)]
    assert [(n, w) for n, _, w in mix.data.mixture()] == [("long", 0.6), ("short", 0.4)]
    assert mix.optim == paper.optim and mix.model == paper.model and mix.parallel == paper.parallel
    assert mix.optim.total_tokens == 5_000_000_000 and mix.data.max_length == paper.data.max_length == 131072


def test_cli_config_with_sources_reports_bad_keys_and_missing_shards(tmp_path, capsys):
    from mmprolong.cli.main import main

    cfg = tmp_path / "mix.yaml"
    cfg.write_text("model: {preset: tiny-qwen2.5-vl}\n"
                   "data: {sources: [{name: long, shards: [x], weight: 0.6}, {name: short, shards: [y], wieght: 1}]}\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "data.sources.1.wieght: unknown key" in capsys.readouterr().err
    cfg.write_text("model: {preset: tiny-qwen2.5-vl, dtype: fp32}\n"
                   f"data: {{sources: [{{name: long, shards: ['{tmp_path}/none'], weight: 1}}]}}\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "no training shards at" in capsys.readouterr().err
    assert main(["train", "--config", str(cfg), "--shards", "z", "--out", str(tmp_path / "o")]) == 2
    assert "not both" in capsys.readouterr().err


def test_report_columns_per_source_only_for_a_mixture(tmp_path):
    from mmprolong.train.report import write_report

    row = {"step": 1, "loss": 1.0, "lr": 1e-3, "tokens": 100, "tokens_per_s_per_device": 10.0, "peak_mem_gib": 1.0}
    one = parse_config({"model": {"preset": "tiny-qwen2.5-vl"}, "data": {"shards": ["x"]}})
    md = write_report(tmp_path, [{**row, "source_tokens": {"shards": 100}}], one).read_text()
    assert "tokens shards" not in md and "realised token share" not in md
    two = parse_config({"model": {"preset": "tiny-qwen2.5-vl"},
                        "data": {"sources": [{"name": "a", "shards": "x", "weight": 3},
                                             {"name": "b", "shards": "y", "weight": 2}]}})
    md = write_report(tmp_path, [{**row, "source_tokens": {"a": 70, "b": 30}}], two).read_text()
    assert "| a | 60.0% | 70.00% |" in md and "| 1 | 1.0000 | 1.00e-03 | 100 | 70 | 30 |" in md
