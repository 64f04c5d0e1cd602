"""Model loading with transformers' own classes, random-weight shape presets, and the recipe's context extension.

Context extension only rewrites config values that transformers (and vLLM) read themselves
(`rope_parameters.rope_theta`, `rope_type`/`factor` for YaRN, `max_position_embeddings`), so a saved model loads
as it is, with no custom code.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForImageTextToText, PretrainedConfig, PreTrainedModel

from .presets import PRESETS  # noqa: F401  (the released models' shapes, in a light module for `mmprolong plan`)


def preset_config(name: str) -> PretrainedConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}")
    kw = copy.deepcopy(PRESETS[name])
    return AutoConfig.for_model(kw.pop("model_type"), **kw)


def ntk_base(base: float, t: float, head_dim: int) -> float:
    """Dynamic-NTK rule for stretching the context t times: base * t^(d/(d-2)) (1e6, t=4, d=128 -> ~4.09e6)."""
    if head_dim <= 2:
        raise ValueError(f"head_dim must be > 2, got {head_dim}")
    return float(base) * float(t) ** (head_dim / (head_dim - 2))


def head_dim(text_config: PretrainedConfig) -> int:
    return getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads


def extend_context(config: PretrainedConfig, max_length: int, rope_theta: float | None = None,
                   yarn_factor: float | None = None) -> PretrainedConfig:
    """Set the mRoPE base (sections unchanged; never lowered), optional YaRN, and max_position_embeddings in place;
    returns config."""
    tc = config.get_text_config()
    rp = dict(tc.rope_parameters or {})
    old_max = int(getattr(tc, "max_position_embeddings", max_length))
    if rope_theta is not None:
        if rope_theta <= 0:
            raise ValueError(f"model.rope_theta must be positive, got {rope_theta}")
        base = rp.get("rope_theta", getattr(tc, "rope_theta", None))
        if base is not None and float(rope_theta) < float(base):
            raise ValueError(f"model.rope_theta={rope_theta:g} is below the model's own mRoPE base {float(base):g}: "
                             "that shortens the context instead of extending it (the 4e6 default is the Qwen2.5-VL "
                             "recipe); set model.rope_theta to null to keep the base, or to a larger value")
        rp["rope_theta"] = float(rope_theta)
    if yarn_factor is not None:
        if yarn_factor <= 1:
            raise ValueError(f"model.yarn_factor must be > 1, got {yarn_factor}")
        rp.update(rope_type="yarn", factor=float(yarn_factor), original_max_position_embeddings=old_max)
    tc.rope_parameters = rp
    tc.max_position_embeddings = max(int(max_length), old_max if yarn_factor is None else int(old_max * yarn_factor))
    return config


def attn_spec(attn_implementation: str) -> str | dict:
    """What the loader is given: our packed attentions for the text model (the vision tower is switched after
    construction by `varlen.use_for_vision`), anything else as it is."""
    from .varlen import NAMES, register

    if attn_implementation not in NAMES:
        return attn_implementation
    register()
    return {"text_config": attn_implementation, "vision_config": "sdpa", "": "sdpa"}


def build_model(config: PretrainedConfig, dtype: torch.dtype = torch.float32,
                attn_implementation: str = "sdpa", device: str | torch.device = "cpu") -> PreTrainedModel:
    """A model with random weights from a config, through transformers' auto class (no forked modeling code).
    device "meta": shapes only, no memory (the ranks that receive their weights from rank 0, `distributed.shard`)."""
    from .varlen import use_for_vision

    with torch.device(device):
        hf = AutoModelForImageTextToText.from_config(config, dtype=dtype,
                                                     attn_implementation=attn_spec(attn_implementation))
    use_for_vision(hf, attn_implementation)
    return hf


def load_model(path: str | Path, dtype: torch.dtype, attn_implementation: str, max_length: int,
               rope_theta: float | None, yarn_factor: float | None, empty: bool = False) -> PreTrainedModel:
    """A local Hugging Face folder, loaded with its own class, its config extended before the weights load.
    `empty`: the same model on the meta device without reading any weight (a rank that receives them from rank 0:
    one read of the weights per node)."""
    from .varlen import use_for_vision

    p = Path(path)
    if not (p / "config.json").exists():
        raise FileNotFoundError(f"model folder has no config.json: {p}")
    config = AutoConfig.from_pretrained(p)
    extend_context(config, max_length, rope_theta, yarn_factor)
    if empty:
        return build_model(config, dtype, attn_implementation, device="meta")
    hf = AutoModelForImageTextToText.from_pretrained(p, config=config, dtype=dtype,
                                                     attn_implementation=attn_spec(attn_implementation))
    use_for_vision(hf, attn_implementation)
    return hf


def enable_checkpointing(hf: PreTrainedModel, offload: bool = False) -> None:
    """Activation checkpointing of every decoder layer and vision block (transformers' own); `offload` keeps the
    saved layer inputs in pinned host memory (what dominates device memory at 128K)."""
    kw = {"use_reentrant": False}
    if hasattr(hf, "activation_checkpointing_enable"):
        hf.activation_checkpointing_enable(activation_checkpointing_kwargs=kw, offload=offload)
    else:  # older transformers
        if offload:
            raise ValueError("parallel.activation_offload needs transformers with activation_checkpointing_enable")
        hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kw)


def resolve_attn(requested: str, device: torch.device) -> str:
    """`auto`: flash-attn's varlen kernel when installed on GPU, else our packed attention there (torch's varlen
    kernel or FlexAttention, `varlen.ATTN_NAME`); on CPU sdpa with transformers' block-diagonal mask (short packs;
    LongLM refuses a dense mask beyond DENSE_MASK_MAX_TOKENS and names the attention to use)."""
    if requested != "auto":
        return requested
    if device.type != "cuda":
        return "sdpa"
    try:
        import flash_attn  # noqa: F401

        return "flash_attention_2"
    except ImportError:
        from .varlen import ATTN_NAME

        return ATTN_NAME
