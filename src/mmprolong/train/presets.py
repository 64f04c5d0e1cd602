"""Shapes of the released models (random weights; for tests, benchmarks and plans), as plain data.

Light on purpose: `mmprolong plan` reads a preset through `shape(name)` without importing torch or transformers
(which took most of its 16 s on a loaded 2-core machine); `train.model.preset_config` turns the same data into a
transformers config. Fields transformers would fill with its defaults and `train.plan` reads are written out
(Qwen3-VL-8B's `num_position_embeddings`; `in_channels` 3, RGB, is filled in by `shape`), so both views give the
same plan (tests/train/test_plan.py).
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

# Shapes of the released models (random weights; for tests, benchmarks and plans).
_Q25_VISION_7B = dict(depth=32, hidden_size=1280, num_heads=16, intermediate_size=3420, out_hidden_size=3584,
                      fullatt_block_indexes=[7, 15, 23, 31], window_size=112, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2)
PRESETS: dict[str, dict] = {
    "tiny-qwen2.5-vl": dict(
        model_type="qwen2_5_vl", image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653,
        text_config=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, vocab_size=151936, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=2, hidden_size=32, num_heads=2, intermediate_size=64, out_hidden_size=64,
                           fullatt_block_indexes=[1], window_size=112, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2),
    ),
    "qwen2.5-vl-7b": dict(
        model_type="qwen2_5_vl", image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653,
        text_config=dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                         intermediate_size=18944, vocab_size=152064, max_position_embeddings=128000,
                         rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}),
        vision_config=_Q25_VISION_7B,
    ),
    "qwen2.5-vl-3b": dict(
        model_type="qwen2_5_vl", image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653, tie_word_embeddings=True,
        text_config=dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
                         intermediate_size=11008, vocab_size=151936, max_position_embeddings=128000,
                         rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}),
        vision_config={**_Q25_VISION_7B, "out_hidden_size": 2048},
    ),
    "tiny-qwen3-vl": dict(
        model_type="qwen3_vl", image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653,
        text_config=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, intermediate_size=128, vocab_size=151936, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [2, 3, 3],
                                          "mrope_interleaved": True}),
        vision_config=dict(depth=2, hidden_size=32, num_heads=2, intermediate_size=64, out_hidden_size=64,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[0]),
    ),
    "qwen3-vl-8b": dict(
        model_type="qwen3_vl", image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653,
        text_config=dict(hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                         head_dim=128, intermediate_size=12288, vocab_size=151936, max_position_embeddings=262144,
                         rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [24, 20, 20],
                                          "mrope_interleaved": True}),
        vision_config=dict(depth=27, hidden_size=1152, num_heads=16, intermediate_size=4304, out_hidden_size=4096,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=2304,
                           deepstack_visual_indexes=[8, 16, 24]),
    ),
}


class ModelShape(SimpleNamespace):
    """A preset's fields as attributes, with transformers' `get_text_config()`: what `train.plan.plan` reads."""

    def get_text_config(self):
        return self.text_config


def shape(name: str) -> ModelShape:
    """The preset `name` as a ModelShape (no torch, no transformers)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}")
    kw = copy.deepcopy(PRESETS[name])
    kw["vision_config"] = {"in_channels": 3, **kw["vision_config"]}
    kw.setdefault("tie_word_embeddings", False)
    return ModelShape(**{k: SimpleNamespace(**v) if k in ("text_config", "vision_config") else v
                         for k, v in kw.items()})
