import pytest
import yaml

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


@pytest.mark.parametrize("section, key, value", [
    ("optim", "steps", -5), ("optim", "steps", 0), (None, "save_every", -1), (None, "save_every", 0),
    (None, "log_every", 0), (None, "keep_checkpoints", 0), ("optim", "tokens_per_step", -1),
    ("optim", "total_tokens", 0), ("optim", "lr", 0), ("optim", "lr", float("inf")), ("optim", "lr", float("nan")),
    ("optim", "warmup_ratio", 1.5), ("optim", "grad_clip", -1.0), ("data", "max_length", -4096),
    ("parallel", "sp", 0), ("parallel", "loss_chunk", 0), ("model", "rope_theta", -1.0),
    ("model", "yarn_factor", 0.5), ("optim", "betas", [0.9, 1.5]),
])
def test_a_value_no_run_can_use_is_an_error_naming_the_key(tmp_path, section, key, value):
    """`optim.steps: -5` trained nothing and exported; `save_every: -1` was accepted."""
    data = {"model": {"preset": "tiny-qwen2.5-vl"}}
    if section == "model":
        data["model"][key] = value
    elif section:
        data[section] = {key: value}
    else:
        data[key] = value
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(data))
    name = f"{section}.{key}" if section else key
    with pytest.raises(ValueError, match=rf"^bad training config: {name}: "):
        load_config(p)
