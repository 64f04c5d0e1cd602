"""`load(name_or_path)`: a TokenCounter from a preset name or a local Hugging Face model folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .counter import TokenCounter
from .presets import ALIASES, PRESETS, ModelSpec

_MODEL_TYPES = {"qwen2_vl": "qwen2.5-vl", "qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl", "qwen3_vl_moe": "qwen3-vl"}


def _read_json(p: Path) -> dict:
    return json.loads(p.read_text()) if p.exists() else {}


def spec_from_folder(folder: str | Path) -> ModelSpec:
    """Read a model folder's config.json, preprocessor_config.json and tokenizer files into a ModelSpec."""
    d = Path(folder)
    cfg = _read_json(d / "config.json")
    pre = _read_json(d / "preprocessor_config.json")
    tok_cfg = _read_json(d / "tokenizer_config.json")
    model_type = cfg.get("model_type")
    if model_type not in _MODEL_TYPES:
        raise ValueError(f"{d}: unsupported model_type {model_type!r}; supported: {sorted(_MODEL_TYPES)}")
    base = PRESETS[_MODEL_TYPES[model_type]]
    size = pre.get("size") or {}
    min_pixels = pre.get("min_pixels", size.get("shortest_edge", base.min_pixels))
    max_pixels = pre.get("max_pixels", size.get("longest_edge", base.max_pixels))
    template = None
    for name in ("chat_template.jinja",):
        if (d / name).exists():
            template = (d / name).read_text()
    if template is None and (d / "chat_template.json").exists():
        template = _read_json(d / "chat_template.json").get("chat_template")
    if template is None:
        template = tok_cfg.get("chat_template") or base.chat_template
    # Added tokens: transformers 5 keeps them only in tokenizer.json, older folders in tokenizer_config.json.
    extra = {t["content"]: int(t["id"]) for t in _read_json(d / "tokenizer.json").get("added_tokens", [])}
    extra.update({v["content"]: int(k) for k, v in (tok_cfg.get("added_tokens_decoder") or {}).items()})
    return replace(
        base, name=f"{base.name}:{d.name}", patch_size=int(pre.get("patch_size", base.patch_size)),
        merge_size=int(pre.get("merge_size", base.merge_size)),
        temporal_patch_size=int(pre.get("temporal_patch_size", base.temporal_patch_size)),
        min_pixels=int(min_pixels), max_pixels=int(max_pixels), chat_template=template, extra_specials=extra,
    )


def load(name_or_path: str, max_pixels: int | None = None, min_pixels: int | None = None) -> TokenCounter:
    """A TokenCounter for preset `qwen2.5-vl` / `qwen3-vl` (or an alias) or a local HF model folder."""
    key = ALIASES.get(str(name_or_path).lower(), str(name_or_path).lower())
    if key in PRESETS:
        spec = PRESETS[key]
    elif Path(name_or_path).is_dir():
        spec = spec_from_folder(name_or_path)
    else:
        raise ValueError(f"unknown model {name_or_path!r}: use one of {sorted(PRESETS)} or a local model folder")
    return TokenCounter(spec.with_pixels(min_pixels, max_pixels))
