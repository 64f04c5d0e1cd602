"""A small-vocabulary Qwen2.5-VL shape whose memory is mostly activations, and packed documents for it: what the
planner is checked against on CPU (tests/train/test_plan_measured.py)."""

from __future__ import annotations

import torch
from transformers import AutoConfig

from mmprolong.train.encode import EncodedSample

IMAGE, V_START, V_END = 2000, 2001, 2002


def probe_config():
    return AutoConfig.for_model(
        "qwen2_5_vl", image_token_id=IMAGE, video_token_id=2003, vision_start_token_id=V_START,
        vision_end_token_id=V_END, bos_token_id=2004, eos_token_id=2005, pad_token_id=2005,
        text_config=dict(bos_token_id=2004, eos_token_id=2005, hidden_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=256, vocab_size=2048, max_position_embeddings=65536,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]}),
        vision_config=dict(depth=2, hidden_size=64, num_heads=2, intermediate_size=128, out_hidden_size=128,
                           fullatt_block_indexes=[1], window_size=112, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2))


def probe_document(length: int, seed: int, grid=(8, 8), answer: int = 32, patch_dim: int = 1176) -> EncodedSample:
    """Pages of `grid` patches with 16 text tokens each, filling exactly `length` tokens; `answer` targets."""
    g = torch.Generator().manual_seed(seed)
    per_page = grid[0] * grid[1] // 4
    n_pages = max(1, (length - answer - 64) // (per_page + 18))
    ids: list[int] = []
    for _ in range(n_pages):
        ids += torch.randint(10, 1900, (16,), generator=g).tolist() + [V_START] + [IMAGE] * per_page + [V_END]
    ids += torch.randint(10, 1900, (length - len(ids),), generator=g).tolist()
    input_ids = torch.tensor(ids)
    labels = torch.full_like(input_ids, -100)
    labels[-answer - 1:-1] = input_ids[-answer:]
    return EncodedSample(f"doc{seed}", input_ids, labels, (input_ids == IMAGE).to(torch.int32),
                         torch.randn(n_pages * grid[0] * grid[1], patch_dim, generator=g),
                         torch.tensor([[1, *grid]] * n_pages))
