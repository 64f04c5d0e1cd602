"""Typed training configuration (the paper's LongPT recipe as defaults). A wrong key is an error naming the key, and
so is a value no run can use: counts (steps, save_every, lengths...) must be positive and numbers finite, so that
`optim.steps: -5` or `save_every: -1` stops at load time instead of training nothing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelConfig(_Strict):
    """Where the model comes from and how its context is extended."""

    path: str | None = None            # a local Hugging Face folder (Qwen2.5-VL / Qwen3-VL)
    preset: str | None = None          # random weights from a shape preset (see train.model.PRESETS)
    # mRoPE base after extension (paper, Qwen2.5-VL: 1e6 -> 4e6); None keeps the model's (Qwen3-VL's own base is
    # 5e6: a lower value is an error)
    rope_theta: float | None = Field(default=4e6, gt=0)
    yarn_factor: float | None = Field(default=None, gt=1)  # YaRN scaling instead of / besides the base change (off)
    max_position_embeddings: int | None = Field(default=None, ge=1)  # default: data.max_length
    # auto: flash_attention_2 on GPU if installed, else mmprolong_packed (torch varlen kernel / FlexAttention); sdpa on CPU
    attn_implementation: str = "auto"
    dtype: Literal["bf16", "fp32"] = "bf16"
    tokenizer: str | None = None       # TokenCounter name or folder; default: the model folder or the preset's family

    @model_validator(mode="after")
    def _one_source(self) -> "ModelConfig":
        if (self.path is None) == (self.preset is None):
            raise ValueError("model: give exactly one of 'path' (a local HF folder) or 'preset' (random weights)")
        return self


class SourceConfig(_Strict):
    """One weighted data source of a training mixture."""

    shards: list[str] = Field(min_length=1)  # parquet files, folders or globs (schema.SAMPLES)
    weight: float = Field(gt=0)              # share of the packed tokens (weights are normalised to sum to 1)
    name: str | None = None                  # for logs and the run report; default source<k>

    @field_validator("shards", mode="before")
    @classmethod
    def _one_path(cls, v):
        return [v] if isinstance(v, str) else v


class DataConfig(_Strict):
    """Either `shards` (one pool, one shuffled order) or `sources` (a mixture weighted by tokens), not both."""

    shards: list[str] = Field(default_factory=list)  # parquet files or folders of them (schema.SAMPLES)
    sources: list[SourceConfig] = Field(default_factory=list)
    max_length: int = Field(default=131072, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _shards_or_sources(self) -> "DataConfig":
        if self.shards and self.sources:
            raise ValueError("give data.shards (one pool) or data.sources (a weighted mixture), not both")
        names = self.source_names()
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"data.sources: duplicate source names {dup}")
        return self

    def source_names(self) -> list[str]:
        return [s.name or f"source{k}" for k, s in enumerate(self.sources)]

    def mixture(self) -> list[tuple[str, list[str], float]]:
        """(name, shard paths, normalised weight) per source; the single-pool form is one source, "shards"."""
        if self.sources:
            total = sum(s.weight for s in self.sources)
            return [(n, list(s.shards), s.weight / total) for n, s in zip(self.source_names(), self.sources)]
        return [("shards", list(self.shards), 1.0)] if self.shards else []


class OptimConfig(_Strict):
    lr: float = Field(default=1e-5, gt=0)
    min_lr: float = Field(default=1e-6, ge=0)
    warmup_ratio: float = Field(default=0.1, ge=0, le=1)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(default=0.1, ge=0)
    grad_clip: float = Field(default=1.0, gt=0)
    tokens_per_step: int = Field(default=4 * 1024 * 1024, ge=1)  # global batch in tokens (paper: 4M = 32 x 128K)
    # budget (paper: 5B) in packed tokens: training runs until the packs reach it (loop.planned_steps; packs are
    # never quite full)
    total_tokens: int = Field(default=5_000_000_000, ge=1)
    steps: int | None = Field(default=None, ge=1)  # override the derived step count

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"each beta must be in [0, 1), got {list(v)}")
        return v


class ParallelConfig(_Strict):
    sp: int = Field(default=1, ge=1)                       # Ulysses sequence-parallel degree
    fsdp: bool = True                  # FSDP2 full sharding whenever more than one process runs
    cpu_offload: bool = False
    grad_checkpointing: bool = True    # language model and vision tower
    activation_offload: bool = False   # checkpointed layer inputs in pinned host memory (GPU)
    loss_chunk: int = Field(default=4096, ge=1)  # tokens per cross-entropy chunk (never the full [L, vocab] logits)


class TrainConfig(_Strict):
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    output_dir: str = "runs/longpt"
    save_every: int = Field(default=100, ge=1)             # steps between checkpoints (and one at the end)
    keep_checkpoints: int = Field(default=2, ge=1)
    log_every: int = Field(default=1, ge=1)
    logger: Literal["jsonl", "tensorboard"] = "jsonl"  # jsonl always written; tensorboard in addition if chosen
    seed: int = 0
    export: bool = True                # write a Hugging Face folder at the end

    def sequences_per_step(self) -> int:
        return max(1, self.optim.tokens_per_step // self.data.max_length)

    def total_steps(self) -> int:
        """Nominal count (full packs: budget / tokens_per_step); the loop counts real packs (loop.planned_steps)."""
        if self.optim.steps is not None:
            return self.optim.steps
        return max(1, math.ceil(self.optim.total_tokens / self.optim.tokens_per_step))


def _format_error(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "config"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_config(data: dict) -> TrainConfig:
    """Validate a dict into a TrainConfig; errors name the offending key (ValueError)."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"bad training config: {_format_error(e)}") from None


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read a YAML config; `overrides` is a nested dict merged on top (e.g. from CLI flags)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"config not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a training config must be a mapping")
    return parse_config(merge(data, overrides or {}))


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
