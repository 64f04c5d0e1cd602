"""Generator configuration (typed; an unknown or mistyped key is an error naming the key) and the factory."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GeneratorConfig(BaseModel):
    """How QA pairs are written. `rules` is offline and deterministic; `openai` calls a teacher VLM.

    The API key is never stored here: `api_key_env` names the environment variable that holds it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["rules", "openai"] = "rules"
    model: str = ""
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)        # transport retries (429 / 5xx / timeouts), exponential backoff
    json_retries: int = Field(2, ge=0, le=10)       # extra requests when the reply is not the JSON asked for
    cache_dir: str | None = None
    prompt_version: str | None = None               # None: the shipped prompts.PROMPT_VERSION
    send_text: bool = False                         # also send each page's text layer next to its image
    image_max_pixels: int | None = Field(None, ge=3136)  # downscale page images above this many pixels before sending
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(1024, ge=16)
    json_mode: bool = True                          # ask for response_format={"type": "json_object"}
    extra: dict[str, Any] = Field(default_factory=dict)  # passed as extra_body to the chat request


VERIFY_CHECKS = ("evidence", "closed_book", "instance")


class VerifyConfig(BaseModel):
    """Model verification (recipe key `verify:`): a VLM behind an OpenAI-compatible server answers each question
    again. kind "none" (default) leaves only the rule checks of verify.py; "openai" adds the `checks` asked for:

    - evidence: answer from the evidence pages alone, shown as the training sample shows them; an answer that the
      eval's scorer (`eval.scorers.docqa.score_docqa`) scores below `min_score` rejects `verifier_disagrees`.
    - closed_book: answer with no document; an answer scoring >= `min_score` rejects `answerable_without_document`.
    - instance: answer from the whole assembled instance (costly: long requests); disagreeing rejects
      `verifier_disagrees_instance`.

    The API key is read from the environment variable `api_key_env` names, never stored or logged.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "openai"] = "none"
    model: str = ""
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    checks: list[Literal["evidence", "closed_book", "instance"]] = Field(
        default_factory=lambda: ["evidence", "closed_book"])
    min_score: float = Field(0.5, gt=0, le=1)       # the scorer's score at or above which two answers agree
    only_if_rules_pass: bool = True                 # ask the model only about items the rule checks kept
    unchecked_if_agrees: bool = True                # keep an item the rules could not check (no trustworthy text
                                                    # on its evidence pages) when the model agrees; False: reject
    concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    cache_dir: str | None = None
    image_max_pixels: int | None = Field(None, ge=3136)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(512, ge=16)
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _model_needed(self) -> "VerifyConfig":
        if self.kind == "openai" and not self.model:
            raise ValueError("@model: required when kind is openai")
        if self.kind == "openai" and not self.checks:
            raise ValueError("@checks: name at least one of " + ", ".join(VERIFY_CHECKS))
        return self

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


def make_generator(cfg: GeneratorConfig | dict):
    """A generator with `.generate(doc, segment, task, rng)` and `.generate_many(items)`."""
    if isinstance(cfg, dict):
        cfg = GeneratorConfig(**cfg)
    if cfg.kind == "rules":
        from .rules import RulesGenerator
        return RulesGenerator(cfg)
    from .openai_gen import OpenAIGenerator
    return OpenAIGenerator(cfg)
