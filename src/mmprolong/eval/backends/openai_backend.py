"""`openai` backend: any OpenAI-compatible chat server (vLLM, SGLang, hosted); images sent inline as data URLs.

Timeouts and retries with backoff (connection errors, 429, 5xx) are the openai client's own; concurrency is a
thread pool in the runner. The API key is read from the environment variable named by `api_key_env` and is never
logged or written.
"""

from __future__ import annotations

import os

from PIL import Image
from pydantic import BaseModel, ConfigDict

from ..images import jpeg_data_url


class OpenAIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    max_new_tokens: int = 256
    temperature: float = 0.0
    timeout: float = 600.0
    max_retries: int = 3
    concurrency: int = 4
    jpeg_quality: int = 90


def to_openai_messages(messages: list[dict], images: list[Image.Image], quality: int = 90) -> list[dict]:
    out, k = [], 0
    for m in messages:
        if isinstance(m["content"], str):
            out.append({"role": m["role"], "content": m["content"]})
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": jpeg_data_url(images[k], quality)}})
                k += 1
            else:
                parts.append({"type": "text", "text": p["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


class OpenAIBackend:
    def __init__(self, cfg: OpenAIConfig):
        from openai import OpenAI

        self.cfg = cfg
        self.name = f"openai:{cfg.model}"
        self.concurrency = cfg.concurrency
        self.client = OpenAI(base_url=cfg.base_url, api_key=os.environ.get(cfg.api_key_env) or "EMPTY",
                             timeout=cfg.timeout, max_retries=cfg.max_retries)

    def generate(self, messages: list[dict], images: list[Image.Image]) -> str:
        r = self.client.chat.completions.create(
            model=self.cfg.model, messages=to_openai_messages(messages, images, self.cfg.jpeg_quality),
            max_tokens=self.cfg.max_new_tokens, temperature=self.cfg.temperature)
        return r.choices[0].message.content or ""

    def describe(self) -> dict:
        return self.cfg.model_dump()  # the key's *name* only, never its value
