import pytest

from mmprolong.train.config import load_config, parse_config


def test_defaults_follow_the_paper():
    cfg = parse_config({"model": {"preset": "qwen2.5-vl-7b"}})
    assert cfg.data.max_length == 131072 and cfg.model.rope_theta == 4e6
    assert cfg.optim.betas == (0.9, 0.95) and cfg.optim.weight_decay == 0.1 and cfg.optim.lr == 1e-5
    assert cfg.sequences_per_step() == 32 and cfg.total_steps() == 1193  # ceil(5e9 / 4Mi)


def test_wrong_key_is_an_error_naming_it(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("model: {preset: tiny-qwen2.5-vl}\noptim: {learning_rate: 0.1}\n")
    with pytest.raises(ValueError, match="optim.learning_rate: unknown key"):
        load_config(p)


def test_model_source_must_be_one():
    with pytest.raises(ValueError, match="exactly one of 'path'"):
        parse_config({"model": {}})


def test_overrides_merge(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("model: {preset: tiny-qwen2.5-vl}\ndata: {max_length: 1024, seed: 3}\n")
    cfg = load_config(p, {"data": {"max_length": 2048}})
    assert cfg.data.max_length == 2048 and cfg.data.seed == 3
