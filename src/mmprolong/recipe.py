"""Data recipes: a YAML file validated into typed objects, so a typo is an error that names the key.

A recipe says what training data `mmprolong build` makes: for which model (its TokenCounter decides every length),
how long instances are (pool-native page range, long-biased page range, or a histogram over token buckets), the task
mixture, the token budget, the generator and its settings, and assembly options. `recipe_hash` is stable over key
order and YAML formatting and changes when the counting rule of the model changes (TokenCounter.fingerprint()).

Recipes resolve by path or by name: `load_recipe("demo")` reads the bundled `mmprolong/recipes/demo.yaml`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .schema import TASKS
from .synth.config import VerifyConfig

RECIPES_DIR = Path(__file__).with_name("recipes")
QA_TASKS = ("extract-single", "extract-multi", "reasoning")

# Default page ranges per length mode (the paper's): pool-native 32-50 pages, long-biased 50-100 pages.
_DEFAULT_PAGES = {"pool-native": (32, 50), "long-biased": (50, 100), "histogram": (1, 100_000)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lengths(_Strict):
    """How instance lengths are chosen.

    pool-native / long-biased: keep the pool's natural distribution among documents whose page count is in
    [min_pages, max_pages]. histogram: a target share per token bucket [edges[i], edges[i+1]); documents longer than
    a bucket are cut to a page window that fits it.
    """

    mode: Literal["pool-native", "long-biased", "histogram"] = "pool-native"
    min_pages: int | None = Field(default=None, ge=1)
    max_pages: int | None = Field(default=None, ge=1)
    edges: list[int] | None = None
    shares: Literal["uniform"] | list[float] = "uniform"

    @model_validator(mode="after")
    def _check(self) -> "Lengths":
        lo, hi = _DEFAULT_PAGES[self.mode]
        object.__setattr__(self, "min_pages", self.min_pages or lo)
        object.__setattr__(self, "max_pages", self.max_pages or hi)
        if self.min_pages > self.max_pages:
            raise ValueError(f"min_pages {self.min_pages} > max_pages {self.max_pages}")
        if self.mode == "histogram":
            if not self.edges or len(self.edges) < 2:
                raise ValueError("histogram mode needs edges: at least two increasing token counts")
            if any(b <= a for a, b in zip(self.edges, self.edges[1:])) or self.edges[0] < 0:
                raise ValueError(f"edges must be increasing and >= 0, got {self.edges}")
            if isinstance(self.shares, list):
                if len(self.shares) != len(self.edges) - 1:
                    raise ValueError(f"shares has {len(self.shares)} values for {len(self.edges) - 1} buckets")
                if any(s < 0 for s in self.shares) or abs(sum(self.shares) - 1) > 1e-6:
                    raise ValueError(f"shares must be >= 0 and sum to 1, got {self.shares}")
        elif self.edges is not None or self.shares != "uniform":
            raise ValueError(f"edges/shares apply to mode histogram only (mode is {self.mode})")
        return self

    def bucket_shares(self) -> list[float]:
        n = len(self.edges or []) - 1
        return [1.0 / n] * n if self.shares == "uniform" else list(self.shares)


class TaskShares(_Strict):
    """Share of instances per task; keys are the task names of schema.TASKS."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    extract_single: float = Field(default=0.0, ge=0, alias="extract-single")
    extract_multi: float = Field(default=0.0, ge=0, alias="extract-multi")
    reasoning: float = Field(default=0.0, ge=0)
    ocr_full: float = Field(default=0.0, ge=0, alias="ocr-full")
    ocr_needle: float = Field(default=0.0, ge=0, alias="ocr-needle")

    @model_validator(mode="after")
    def _sum(self) -> "TaskShares":
        total = sum(self.as_dict().values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"task shares must sum to 1, got {total:g}")
        return self

    def as_dict(self) -> dict[str, float]:
        """Task name -> share, tasks with a zero share left out, in schema.TASKS order."""
        d = self.model_dump(by_alias=True)
        return {t: float(d[t]) for t in TASKS if d[t] > 0}


class Mixture(_Strict):
    """Task shares of the instances (the paper's best: 40% extract-single, 40% extract-multi, 20% reasoning)."""

    tasks: TaskShares = Field(default_factory=lambda: TaskShares.model_validate(
        {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}))


class Generator(BaseModel):
    """Generator settings, passed to mmprolong.synth.GeneratorConfig (its own fields are checked there)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: Literal["rules", "openai"] = "rules"

    @model_validator(mode="after")
    def _check(self) -> "Generator":
        try:
            from .synth import GeneratorConfig
        except ImportError:  # synthesis not installed: its own checks run when the build makes the generator
            return self
        try:
            GeneratorConfig(**self.model_dump())
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ValueError(f"@{key}: {msg}") from None
        return self

    def settings(self) -> dict[str, Any]:
        return self.model_dump()


class Segment(_Strict):
    """Segment the generator sees: consecutive pages (whole sections when possible), 8-15 in the paper."""

    min_pages: int = Field(default=8, ge=1)
    max_pages: int = Field(default=15, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "Segment":
        if self.min_pages > self.max_pages:
            raise ValueError(f"min_pages {self.min_pages} > max_pages {self.max_pages}")
        return self


class Recipe(_Strict):
    name: str = "recipe"
    model: str = "qwen2.5-vl"                  # TokenCounter preset name or a local HF model folder
    max_pixels: int | None = Field(default=None, ge=3136)   # None: the model's own
    max_length: int = Field(default=131072, ge=256, le=2**22, strict=True)   # strict: 1e30 or true is an error
    lengths: Lengths = Field(default_factory=Lengths)
    mixture: Mixture = Field(default_factory=Mixture)
    budget_tokens: int = Field(default=5_000_000_000, ge=1)
    generator: Generator = Field(default_factory=Generator)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)   # model verification (synth/verifier.py); off: none
    segment: Segment = Field(default_factory=Segment)
    per_document: int = Field(default=1, ge=1, le=1024, strict=True)   # instances per document (own segments)
    page_markers: bool = True                  # "Page N:" (1-based) before each page image
    visual_budget: bool = False                # lower max_pixels per sample so the whole document fits
    min_page_pixels: int = Field(default=200_704, ge=3136)  # floor of that search (256 tokens of 28x28)
    seed: int = 0
    shard_size: int = Field(default=1000, ge=1)  # samples per part file at most (parts also stop at 256 MiB)

    @field_validator("budget_tokens", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        if isinstance(v, (float, str)):  # 5e9 in YAML is a float or a string
            try:
                f = float(v)
            except ValueError:
                raise ValueError(f"must be a whole number of tokens, got {v!r}") from None
            if not math.isfinite(f):   # .inf / .nan: int() would raise OverflowError, a traceback
                raise ValueError(f"must be a finite whole number of tokens, got {v}")
            if f != int(f):
                raise ValueError(f"must be a whole number of tokens, got {v}")
            return int(f)
        return v

    @model_validator(mode="after")
    def _fits(self) -> "Recipe":
        if self.lengths.edges and self.lengths.edges[0] >= self.max_length:
            raise ValueError(f"@lengths.edges: the lowest edge {self.lengths.edges[0]} is not below max_length "
                             f"{self.max_length}")
        return self

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def counter(self):
        """The TokenCounter every length of this recipe comes from."""
        from . import tokens

        return tokens.load(self.model, max_pixels=self.max_pixels)


# Generator settings that change how requests are made, not what data comes out: left out of the hash, so that a
# build can be resumed with another cache folder, time limit or concurrency.
OPERATIONAL_GENERATOR_KEYS = ("cache_dir", "concurrency", "timeout_s", "max_retries", "api_key_env")
OPERATIONAL_VERIFY_KEYS = ("cache_dir", "concurrency", "timeout_s", "max_retries", "api_key_env")


def recipe_hash(recipe: Recipe, counter=None) -> str:
    """sha256 over the canonical recipe JSON (less operational generator settings) and the TokenCounter
    fingerprint (16 hex digits)."""
    counter = counter or recipe.counter()
    canon = recipe.canonical()
    canon["generator"] = {k: v for k, v in canon["generator"].items() if k not in OPERATIONAL_GENERATOR_KEYS}
    if recipe.verify.enabled:  # verification off leaves the hash of recipes written before it existed unchanged
        canon["verify"] = {k: v for k, v in canon["verify"].items() if k not in OPERATIONAL_VERIFY_KEYS}
    else:
        canon.pop("verify", None)
    blob = json.dumps({"recipe": canon, "counter": counter.fingerprint()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "[key]")
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        if msg.startswith("@"):  # a nested key named by the validator: "@key: message"
            key, msg = msg[1:].split(": ", 1)
            loc = f"{loc}.{key}" if loc else key
        lines.append(f"{loc}: {msg}" if loc else msg)
    return f"{source}: " + "; ".join(lines)


def parse_recipe(data: dict[str, Any], source: str = "recipe") -> Recipe:
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a recipe is a YAML mapping, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise ValueError(_format_errors(e, source)) from None


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_file():
        return p
    bundled = RECIPES_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise FileNotFoundError(f"recipe {name_or_path!r} not found: not a file and not one of {available_recipes()}")


def load_recipe(name_or_path: str | Path | Recipe) -> Recipe:
    """A Recipe from a YAML path or a bundled recipe name; a wrong key or value raises ValueError naming it."""
    if isinstance(name_or_path, Recipe):
        return name_or_path
    path = resolve_recipe_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from None
    return parse_recipe(data, str(path))
