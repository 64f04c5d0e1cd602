"""Transformers' own Qwen-VL processors, built offline from the bundled `qwen.tiktoken`: the reference the
TokenCounter is verified and benchmarked against (no model can be downloaded here).

The tokenizer is transformers' `Qwen2TokenizerFast` (NFC normaliser, Qwen2's Split regex, ByteLevel) over a
byte-level BPE whose merges are derived from the tiktoken ranks: each token's merge is the last step of
byte-pair-merging its own bytes with lower-ranked tokens only, which recovers exactly one merge per token, in rank
order, as in Qwen's merges.txt. Special tokens follow at 151643.. in the model's order. The image processor is
`Qwen2VLImageProcessor` (PIL backend) with the preset's patch/merge sizes and pixel bounds.
"""

from __future__ import annotations

import functools
from typing import Any

from .presets import PRESETS, ModelSpec
from .vocab import SPECIAL_START, load_ranks

# Added tokens that Qwen's tokenizer_config.json marks special=False (still split out of text as added tokens).
_NOT_SPECIAL = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>"}


def _last_merge(token: bytes, rank: int, ranks: dict[bytes, int]) -> tuple[bytes, bytes] | None:
    """The pair whose merge makes `token`, replaying BPE on its bytes with ranks below its own."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best_rank, best_i = rank, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < best_rank:
                best_rank, best_i = r, i
        if best_i < 0:
            return None
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return (parts[0], parts[1]) if len(parts) == 2 else None


def vocab_and_merges(ranks_path: str | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """HF byte-level vocab (token string -> id) and merges (in rank order) from a tiktoken ranks file (cached)."""
    return _vocab_and_merges(ranks_path)


@functools.lru_cache(maxsize=2)
def _vocab_and_merges(ranks_path: str | None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    ranks = load_ranks(ranks_path)
    byte_map = bytes_to_unicode()

    def s(b: bytes) -> str:
        return "".join(byte_map[c] for c in b)

    vocab = {s(t): r for t, r in ranks.items()}
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) > 1:
            pair = _last_merge(tok, rank, ranks)
            if pair is None:
                raise ValueError(f"token {tok!r} (rank {rank}) is not reachable by merges of lower-ranked tokens")
            merges.append((s(pair[0]), s(pair[1])))
    return vocab, merges


def build_tokenizer(model: str = "qwen2.5-vl"):
    """transformers' Qwen2TokenizerFast with the preset's special tokens at 151643.. (no download)."""
    from tokenizers import AddedToken
    from transformers import Qwen2TokenizerFast

    spec = PRESETS[model]
    vocab, merges = vocab_and_merges(spec.vocab_path)
    tok = Qwen2TokenizerFast(vocab=dict(vocab), merges=list(merges), unk_token=None, errors="replace")
    tok.add_tokens([AddedToken(t, special=t not in _NOT_SPECIAL, normalized=False) for t in spec.specials])
    for i, t in enumerate(spec.specials):
        got = tok.convert_tokens_to_ids(t)
        if got != SPECIAL_START + i:
            raise RuntimeError(f"special token {t} got id {got}, expected {SPECIAL_START + i}")
    tok.chat_template = spec.chat_template
    return tok


def build_image_processor(spec: ModelSpec):
    """transformers' Qwen2VLImageProcessor (PIL backend) with the preset's resize rule."""
    from transformers import Qwen2VLImageProcessorPil

    mean = [0.5, 0.5, 0.5] if spec.hf_model_type.startswith("qwen3") else None
    kw: dict[str, Any] = {"image_mean": mean, "image_std": mean} if mean else {}
    return Qwen2VLImageProcessorPil(
        size={"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels},
        patch_size=spec.patch_size, merge_size=spec.merge_size, temporal_patch_size=spec.temporal_patch_size, **kw)


def build_processor(model: str = "qwen2.5-vl", tokenizer=None, max_pixels: int | None = None,
                    min_pixels: int | None = None):
    """Qwen2_5_VLProcessor / Qwen3VLProcessor with the preset's chat template; `tokenizer` reuses a built one."""
    from transformers import Qwen2_5_VLProcessor, Qwen3VLProcessor

    spec = PRESETS[model].with_pixels(min_pixels, max_pixels)
    base = Qwen3VLProcessor if spec.hf_model_type.startswith("qwen3") else Qwen2_5_VLProcessor
    cls = _without_video(base)
    return cls(image_processor=build_image_processor(spec), tokenizer=tokenizer or build_tokenizer(model),
               chat_template=spec.chat_template)


@functools.lru_cache(maxsize=None)
def _without_video(base: type) -> type:
    """The processor class minus its video processor: transformers' video processors need torchvision, which
    is not installed here, and images and text never touch them."""
    attrs = [a for a in base.get_attributes() if a != "video_processor"]
    return type(base.__name__, (base,), {"get_attributes": classmethod(lambda cls: list(attrs)),
                                         "__module__": __name__})
