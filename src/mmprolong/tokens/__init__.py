"""Exact token accounting: the one counter every length in mmprolong comes from."""

from .counter import ChatCount, EncodedChat, ImageGrid, TokenCounter, smart_resize
from .loader import load
from .presets import PRESETS, ModelSpec

__all__ = ["ChatCount", "EncodedChat", "ImageGrid", "ModelSpec", "PRESETS", "TokenCounter", "load", "smart_resize"]
