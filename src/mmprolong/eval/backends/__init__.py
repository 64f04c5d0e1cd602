"""Backends answer chat messages with images: `openai` (any OpenAI-compatible server) and `hf` (local model)."""

from __future__ import annotations

from typing import Protocol

from PIL import Image


class Backend(Protocol):
    name: str
    concurrency: int

    def generate(self, messages: list[dict], images: list[Image.Image]) -> str:
        """The model's answer to `messages` (image parts in order match `images`), greedy."""
