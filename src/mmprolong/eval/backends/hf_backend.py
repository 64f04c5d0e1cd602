"""`hf` backend: a local transformers model folder (Qwen2.5-VL / Qwen3-VL), greedy decoding.

Input ids come from the project's TokenCounter (`encode_messages`), so what the model reads is exactly what was
counted; pixels come from the folder's image processor, and its grids are checked against the counter's.
RoPE overrides (base, max_position_embeddings, YaRN) are applied to the loaded config before the weights, so
256K/512K runs are reproducible from the command line.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from pydantic import BaseModel, ConfigDict


class HFConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str                                   # local model folder
    rope_theta: float | None = None
    max_position_embeddings: int | None = None
    yarn_factor: float | None = None
    yarn_original_max_position_embeddings: int | None = None
    max_new_tokens: int = 128
    dtype: str = "auto"                          # auto: bfloat16 on GPU, float32 on CPU
    device: str = "auto"
    attn_implementation: str | None = None       # e.g. flash_attention_2, sdpa


def apply_rope_overrides(config, cfg: HFConfig) -> dict:
    """Change the text model's RoPE settings in place; returns what was changed (for the run record)."""
    text = getattr(config, "text_config", None) or config
    rp = dict(getattr(text, "rope_parameters", None) or {})
    changed: dict = {}
    if cfg.rope_theta is not None:
        rp["rope_theta"] = float(cfg.rope_theta)
        changed["rope_theta"] = float(cfg.rope_theta)
    if cfg.yarn_factor is not None:
        orig = cfg.yarn_original_max_position_embeddings or text.max_position_embeddings
        rp.update(rope_type="yarn", factor=float(cfg.yarn_factor), original_max_position_embeddings=int(orig))
        changed["yarn"] = {"factor": float(cfg.yarn_factor), "original_max_position_embeddings": int(orig)}
    if rp:
        text.rope_parameters = rp
    if cfg.max_position_embeddings is not None:
        text.max_position_embeddings = int(cfg.max_position_embeddings)
        changed["max_position_embeddings"] = int(cfg.max_position_embeddings)
    return changed


class HFBackend:
    concurrency = 1
    last_n_tokens: int | None = None

    def __init__(self, cfg: HFConfig, counter=None):
        import torch
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText

        from ... import tokens

        folder = Path(cfg.model)
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"{folder}: not a local model folder (no config.json)")
        self.cfg = cfg
        self.name = f"hf:{folder.name}"
        self.counter = counter or tokens.load(str(folder))
        config = AutoConfig.from_pretrained(folder)
        self.overrides = apply_rope_overrides(config, cfg)
        device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32, "bfloat16": torch.bfloat16,
                 "float16": torch.float16, "float32": torch.float32}[cfg.dtype]
        kw = {"attn_implementation": cfg.attn_implementation} if cfg.attn_implementation else {}
        self.model = AutoModelForImageTextToText.from_pretrained(folder, config=config, dtype=dtype, **kw)
        self.model.to(device).eval()
        self.device = device
        self.image_processor = AutoImageProcessor.from_pretrained(folder)
        self.stop_ids = [self.counter.im_end_id, self.counter.eos_id]

    def encode(self, messages: list[dict], images: list[Image.Image]) -> dict:
        """Model inputs: ids from the TokenCounter, pixels from the image processor (grids must agree)."""
        import torch

        # images arrive at the counted size; describe them by that size so the counter's grid is the processor's
        sized = _with_sizes(messages, images)
        enc = self.counter.encode_messages(sized, add_generation_prompt=True)
        inputs = {"input_ids": torch.tensor([enc.input_ids], device=self.device)}
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        if images:
            longest = max(self.counter.max_pixels, max(i.width * i.height for i in images))
            pv = self.image_processor(images=images, return_tensors="pt",
                                      size={"shortest_edge": self.counter.min_pixels, "longest_edge": longest})
            got = [tuple(int(x) for x in t) for t in pv["image_grid_thw"]]
            want = [g.thw for g in enc.image_grids]
            if got != want:
                raise ValueError(f"image processor grids {got[:3]} differ from the TokenCounter's {want[:3]}")
            inputs["pixel_values"] = pv["pixel_values"].to(self.device, self.model.dtype)
            inputs["image_grid_thw"] = pv["image_grid_thw"].to(self.device)
        return inputs

    def generate(self, messages: list[dict], images: list[Image.Image]) -> str:
        import torch

        inputs = self.encode(messages, images)
        self.last_n_tokens = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.cfg.max_new_tokens, do_sample=False,
                                      eos_token_id=self.stop_ids, pad_token_id=self.counter.eos_id)
        new = out[0, inputs["input_ids"].shape[1]:].tolist()
        for i, t in enumerate(new):
            if t in self.stop_ids:
                new = new[:i]
                break
        return self.counter.decode(new)

    def describe(self) -> dict:
        return {**self.cfg.model_dump(), "applied": self.overrides}


def _with_sizes(messages: list[dict], images: list[Image.Image]) -> list[dict]:
    out, k = [], 0
    for m in messages:
        if isinstance(m["content"], str):
            out.append(m)
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                im = images[k]
                k += 1
                p = {**p, "width": im.width, "height": im.height}
                p.pop("max_pixels", None)
            parts.append(p)
        out.append({**m, "content": parts})
    return out
