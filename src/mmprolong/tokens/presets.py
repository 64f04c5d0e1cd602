"""Model presets for the TokenCounter: image resize rule, special tokens and chat template of each model family.

Values are those of the released processors (preprocessor_config.json / tokenizer_config.json), not transformers'
class defaults (Qwen2VLImageProcessor's class default max_pixels is 1,003,520; Qwen2.5-VL-7B ships 12,845,056).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .vocab import QWEN3VL_SPECIALS, QWEN25VL_SPECIALS

# Qwen2-VL / Qwen2.5-VL chat template (image and text parts; default system prompt when none is given).
QWEN25VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen3-VL Instruct chat template, without tools: no default system prompt.
QWEN3VL_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class ModelSpec:
    """What decides a model's token counts: its image resize rule, its special tokens, its chat template."""

    name: str
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    min_pixels: int
    max_pixels: int
    specials: tuple[str, ...]
    chat_template: str
    hf_model_type: str
    extra_specials: dict[str, int] = field(default_factory=dict)
    vocab_path: str | None = None  # None: the bundled qwen.tiktoken
    hf_tokenizer_path: str | None = None  # a tokenizer.json to use instead of qwen.tiktoken (non-Qwen vocabularies)

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    def with_pixels(self, min_pixels: int | None = None, max_pixels: int | None = None) -> "ModelSpec":
        return replace(
            self,
            min_pixels=self.min_pixels if min_pixels is None else int(min_pixels),
            max_pixels=self.max_pixels if max_pixels is None else int(max_pixels),
        )


PRESETS: dict[str, ModelSpec] = {
    "qwen2.5-vl": ModelSpec(
        name="qwen2.5-vl", patch_size=14, merge_size=2, temporal_patch_size=2,
        min_pixels=3136, max_pixels=12845056, specials=QWEN25VL_SPECIALS,
        chat_template=QWEN25VL_TEMPLATE, hf_model_type="qwen2_5_vl",
    ),
    "qwen3-vl": ModelSpec(
        name="qwen3-vl", patch_size=16, merge_size=2, temporal_patch_size=2,
        min_pixels=65536, max_pixels=16777216, specials=QWEN3VL_SPECIALS,
        chat_template=QWEN3VL_TEMPLATE, hf_model_type="qwen3_vl",
    ),
}
ALIASES = {
    "qwen2-vl": "qwen2.5-vl", "qwen2_vl": "qwen2.5-vl", "qwen2_5_vl": "qwen2.5-vl", "qwen25-vl": "qwen2.5-vl",
    "qwen2.5-vl-3b": "qwen2.5-vl", "qwen2.5-vl-7b": "qwen2.5-vl", "qwen2.5-vl-32b": "qwen2.5-vl",
    "qwen2.5-vl-72b": "qwen2.5-vl", "qwen3_vl": "qwen3-vl", "qwen3-vl-8b": "qwen3-vl",
}
