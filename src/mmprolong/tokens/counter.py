"""The one TokenCounter: every length in mmprolong (assembly, packing, eval padding, plots) comes from here.

A chat sample is counted exactly as the model's processor makes it: the chat template is rendered with one
`<|image_pad|>` per image, the text is tokenized with special tokens split out, and each image placeholder is
expanded to (grid_h * grid_w) / merge_size**2 tokens after the model's resize rule (`smart_resize`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .presets import ModelSpec
from .vocab import TextVocab

IMAGE_PAD = "<|image_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's resize rule: sides multiples of `factor`, area within [min_pixels, max_pixels], aspect kept."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@functools.lru_cache(maxsize=1 << 16)
def _resized(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """smart_resize, cached: a corpus has few distinct page sizes and every length query needs them."""
    return smart_resize(height, width, factor, min_pixels, max_pixels)


@dataclass(frozen=True)
class ImageGrid:
    """An image after resizing: pixel size and patch grid (t, h, w) as the model's processor reports it."""

    height: int
    width: int
    grid_t: int
    grid_h: int
    grid_w: int
    merge_size: int

    @property
    def tokens(self) -> int:
        return self.grid_t * self.grid_h * self.grid_w // (self.merge_size**2)

    @property
    def thw(self) -> tuple[int, int, int]:
        return (self.grid_t, self.grid_h, self.grid_w)


@dataclass(frozen=True)
class ChatCount:
    total: int
    image_tokens: int
    n_images: int

    @property
    def text_tokens(self) -> int:
        return self.total - self.image_tokens


@dataclass
class EncodedChat:
    """Token ids of a chat sample with image placeholders expanded, the grids, and which ids are assistant output."""

    input_ids: list[int]
    image_grids: list[ImageGrid]
    assistant_mask: list[bool]


@functools.lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template)


class TokenCounter:
    """Exact token accounting for one target model (text ids, image tokens, whole chat samples)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        if spec.hf_tokenizer_path:
            from .hf_vocab import HFVocab

            self.vocab = HFVocab(spec.hf_tokenizer_path)
        else:
            self.vocab = TextVocab(spec.specials, spec.vocab_path, spec.extra_specials or None)
        self.image_pad_id = self.vocab.token_id(IMAGE_PAD)
        self.vision_start_id = self.vocab.token_id(VISION_START)
        self.vision_end_id = self.vocab.token_id(VISION_END)
        self.im_start_id = self.vocab.token_id("<|im_start|>")
        self.im_end_id = self.vocab.token_id("<|im_end|>")
        self.eos_id = self.vocab.token_id("<|endoftext|>")
        self._template = _compile(spec.chat_template)

    # -- identity -------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def max_pixels(self) -> int:
        return self.spec.max_pixels

    @property
    def min_pixels(self) -> int:
        return self.spec.min_pixels

    def with_pixels(self, min_pixels: int | None = None, max_pixels: int | None = None) -> "TokenCounter":
        """The same model with other pixel bounds (e.g. a per-sample visual-token budget)."""
        return TokenCounter(self.spec.with_pixels(min_pixels, max_pixels))

    def fingerprint(self) -> dict[str, Any]:
        """What a recipe hash must include so that a change of counting rule changes the hash."""
        s = self.spec
        return {"name": s.name, "patch": s.patch_size, "merge": s.merge_size, "min_pixels": s.min_pixels,
                "max_pixels": s.max_pixels, "n_specials": len(self.vocab.special_ids)}

    # -- text -----------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.vocab.decode(list(ids))

    def count_text(self, text: str) -> int:
        return len(self.vocab.encode(text))

    def count_texts(self, texts: list[str], num_threads: int = 1) -> list[int]:
        return self.vocab.count_batch(texts, num_threads=num_threads)

    # -- images ---------------------------------------------------------------------------------------------
    def image_grid(self, width: int, height: int, max_pixels: int | None = None,
                   min_pixels: int | None = None) -> ImageGrid:
        s = self.spec
        h, w = _resized(int(height), int(width), s.factor,
                        int(s.min_pixels if min_pixels is None else min_pixels),
                        int(s.max_pixels if max_pixels is None else max_pixels))
        return ImageGrid(h, w, 1, h // s.patch_size, w // s.patch_size, s.merge_size)

    def image_tokens(self, width: int, height: int, max_pixels: int | None = None) -> int:
        """Tokens one image of width x height pixels costs after the model's resize rule."""
        s = self.spec
        h, w = _resized(int(height), int(width), s.factor, s.min_pixels,
                        int(s.max_pixels if max_pixels is None else max_pixels))
        return (h // s.patch_size) * (w // s.patch_size) // (s.merge_size * s.merge_size)

    def mrope_span(self, width: int, height: int, max_pixels: int | None = None) -> int:
        """How far an image advances the mRoPE text position: max(grid_h, grid_w) / merge_size."""
        g = self.image_grid(width, height, max_pixels)
        return max(g.grid_h, g.grid_w) // g.merge_size

    # -- chat samples ---------------------------------------------------------------------------------------
    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        """The chat template's text, one `<|image_pad|>` per image (before expansion)."""
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     add_vision_id=False)

    @staticmethod
    def iter_images(messages: list[dict]) -> Iterable[dict]:
        for m in messages:
            content = m.get("content")
            if isinstance(content, list):
                for part in content:
                    if part.get("type") == "image" or "image" in part or "image_url" in part:
                        yield part

    def _grid_of(self, part: dict, max_pixels: int | None) -> ImageGrid:
        if "width" not in part or "height" not in part:
            raise ValueError("image parts need 'width' and 'height' (pixels) to be counted")
        mp = part.get("max_pixels", max_pixels)
        return self.image_grid(part["width"], part["height"], mp)

    def count_messages(self, messages: list[dict], add_generation_prompt: bool = False,
                       max_pixels: int | None = None) -> ChatCount:
        """Exact token count of a chat sample. Image parts carry their pixel 'width' and 'height'."""
        ids = self.encode(self.render(messages, add_generation_prompt))
        grids = [self._grid_of(p, max_pixels) for p in self.iter_images(messages)]
        n_pads = sum(1 for i in ids if i == self.image_pad_id)
        if n_pads != len(grids):
            raise ValueError(f"template produced {n_pads} image placeholders for {len(grids)} images")
        img = sum(g.tokens for g in grids)
        return ChatCount(total=len(ids) - n_pads + img, image_tokens=img, n_images=len(grids))

    def encode_messages(self, messages: list[dict], add_generation_prompt: bool = False,
                        max_pixels: int | None = None) -> EncodedChat:
        """Ids as the processor makes them (image pads expanded) and a mask of the assistant turns' tokens.

        The mask covers each assistant turn's content and its closing `<|im_end|>` (what a model must learn to emit),
        not the `<|im_start|>assistant\\n` header.
        """
        ids: list[int] = []
        mask: list[bool] = []
        grids: list[ImageGrid] = []
        prev = ""
        # Messages are separated by <|im_start|>, a special token, so encoding them one by one is exact.
        for k in range(len(messages)):
            full = self.render(messages[: k + 1])
            piece = full[len(prev):] if full.startswith(prev) else None
            if piece is None:
                raise ValueError("chat template is not prefix-stable; cannot split turns")
            prev = full
            seg = self.encode(piece)
            is_assistant = messages[k]["role"] == "assistant"
            head = self.encode("<|im_start|>assistant\n") if is_assistant else []
            # the tail after <|im_end|> ("\n") is not a target
            start = len(head) if is_assistant and seg[: len(head)] == head else (1 if is_assistant else len(seg))
            end = len(seg)
            if is_assistant:
                try:
                    end = len(seg) - seg[::-1].index(self.im_end_id)
                except ValueError:
                    end = len(seg)
            msg_grids = [self._grid_of(p, max_pixels) for p in self.iter_images([messages[k]])]
            gi = 0
            for j, t in enumerate(seg):
                target = is_assistant and start <= j < end
                if t == self.image_pad_id:
                    g = msg_grids[gi]
                    gi += 1
                    grids.append(g)
                    ids.extend([t] * g.tokens)
                    mask.extend([False] * g.tokens)
                else:
                    ids.append(t)
                    mask.append(target)
        if add_generation_prompt:
            tail = self.encode("<|im_start|>assistant\n")
            ids.extend(tail)
            mask.extend([False] * len(tail))
        return EncodedChat(ids, grids, mask)


@functools.lru_cache(maxsize=8)
def image_wrap_tokens(counter: TokenCounter) -> int:
    """Tokens an image part costs beyond its image tokens (e.g. <|vision_start|> and <|vision_end|>)."""
    part = {"type": "image", "width": 56, "height": 56}
    with_image = counter.count_messages([{"role": "user", "content": [part, {"type": "text", "text": "x"}]}])
    without = counter.count_messages([{"role": "user", "content": [{"type": "text", "text": "x"}]}])
    return with_image.total - with_image.image_tokens - without.total
