import pytest
from transformers import AutoModelForImageTextToText

from mmprolong.train.model import PRESETS, extend_context, ntk_base, preset_config


def test_ntk_rule():
    assert ntk_base(1e6, 4, 128) == pytest.approx(1e6 * 4 ** (128 / 126))
    assert 4.0e6 < ntk_base(1e6, 4, 128) < 4.1e6


def test_extension_keeps_sections_and_sets_length():
    c = extend_context(preset_config("qwen2.5-vl-7b"), 131072, rope_theta=4e6)
    rp = c.get_text_config().rope_parameters
    assert rp["rope_theta"] == 4e6 and rp["mrope_section"] == [16, 24, 24] and rp["rope_type"] == "default"
    assert c.get_text_config().max_position_embeddings == 131072


def test_yarn_option():
    c = extend_context(preset_config("tiny-qwen2.5-vl"), 131072, rope_theta=None, yarn_factor=4)
    rp = c.get_text_config().rope_parameters
    assert rp["rope_type"] == "yarn" and rp["factor"] == 4 and rp["original_max_position_embeddings"] == 32768
    with pytest.raises(ValueError, match="yarn_factor"):
        extend_context(preset_config("tiny-qwen2.5-vl"), 1024, yarn_factor=0.5)


def test_saved_model_loads_in_transformers_with_new_rope(tiny_hf, tmp_path):
    extend_context(tiny_hf.config, 131072, rope_theta=4e6)
    tiny_hf.save_pretrained(tmp_path)
    m = AutoModelForImageTextToText.from_pretrained(tmp_path)
    assert m.config.text_config.rope_parameters["rope_theta"] == 4e6
    assert m.config.text_config.max_position_embeddings == 131072
    inv = m.model.language_model.rotary_emb.inv_freq
    assert float(inv[1]) == pytest.approx(4e6 ** (-2 / 16), rel=1e-5)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown model preset"):
        preset_config("nope")
    assert {"qwen2.5-vl-7b", "qwen3-vl-8b", "tiny-qwen2.5-vl"} <= set(PRESETS)


def test_extension_never_lowers_the_base():
    """The default model.rope_theta (4e6, the Qwen2.5-VL recipe) is below Qwen3-VL's own base 5e6: applying it
    would shrink, not extend, the context; it must be an error naming the key, and None keeps the model's base."""
    with pytest.raises(ValueError, match=r"model.rope_theta.*below the model.s own mRoPE base 5e\+06"):
        extend_context(preset_config("qwen3-vl-8b"), 131072, rope_theta=4e6)
    c = extend_context(preset_config("qwen3-vl-8b"), 131072, rope_theta=None)
    assert c.get_text_config().rope_parameters["rope_theta"] == 5e6
    c = extend_context(preset_config("qwen3-vl-8b"), 524288, rope_theta=2e7)
    assert c.get_text_config().rope_parameters["rope_theta"] == 2e7
