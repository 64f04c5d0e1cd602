"""One training sample (a schema.SAMPLES row) -> model inputs: ids from the one TokenCounter, pixels from
transformers' own image processor, labels on answer tokens only.

The counter's image grid and the processor's image_grid_thw must agree for every image, and the ids must have
exactly the shard's `n_tokens`: a disagreement is an error, never a silent fix.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..tokens import TokenCounter

IGNORE = -100


@dataclass
class EncodedSample:
    sample_id: str
    input_ids: torch.Tensor       # [n] long
    labels: torch.Tensor          # [n] long, already shifted: labels[t] is the target for position t, else -100
    mm_token_type_ids: torch.Tensor  # [n] int: 0 text, 1 image
    pixel_values: torch.Tensor | None  # [patches, C*T*P*P]
    image_grid_thw: torch.Tensor | None  # [images, 3]

    def __len__(self) -> int:
        return int(self.input_ids.numel())

    @property
    def n_targets(self) -> int:
        return int((self.labels != IGNORE).sum())


def image_processor_for(counter: TokenCounter, model_folder: str | None = None):
    """The model's image processor (PIL backend; no torchvision needed): the folder's preprocessor_config.json when
    there is one, else the family's released values, with the counter's resize parameters."""
    from pathlib import Path

    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    s = counter.spec
    kw = dict(patch_size=s.patch_size, merge_size=s.merge_size, temporal_patch_size=s.temporal_patch_size,
              min_pixels=s.min_pixels, max_pixels=s.max_pixels)
    if model_folder and (Path(model_folder) / "preprocessor_config.json").exists():
        return Qwen2VLImageProcessorPil.from_pretrained(model_folder, **kw)
    if s.hf_model_type.startswith("qwen3"):  # Qwen3-VL normalises with mean = std = 0.5
        kw.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return Qwen2VLImageProcessorPil(**kw)


def shifted_labels(ids: list[int], assistant_mask: list[bool]) -> list[int]:
    """Next-token targets where the next token is an answer token; -100 elsewhere and at the sample's end."""
    return [ids[t + 1] if assistant_mask[t + 1] else IGNORE for t in range(len(ids) - 1)] + [IGNORE]


def encode_messages(counter: TokenCounter, processor, messages: list[dict], images: list[bytes | Image.Image],
                    max_pixels: int | None = None, sample_id: str = "", n_tokens: int | None = None) -> EncodedSample:
    enc = counter.encode_messages(messages, max_pixels=max_pixels)
    if n_tokens is not None and len(enc.input_ids) != n_tokens:
        raise ValueError(f"sample {sample_id}: shard says n_tokens={n_tokens} but the TokenCounter gives "
                         f"{len(enc.input_ids)}; the shard was built for another model or counter")
    if len(images) != len(enc.image_grids):
        raise ValueError(f"sample {sample_id}: {len(enc.image_grids)} image parts but {len(images)} images stored")
    if not any(enc.assistant_mask):
        raise ValueError(f"sample {sample_id}: no assistant tokens to train on")
    pixel_values = grid_thw = None
    if images:
        parts = list(counter.iter_images(messages))
        pvs, grids = [], []
        for k, (img, part, g) in enumerate(zip(images, parts, enc.image_grids)):
            pil = img if isinstance(img, Image.Image) else Image.open(io.BytesIO(img))
            if pil.size != (part["width"], part["height"]):
                raise ValueError(f"sample {sample_id}: image {k} is {pil.size[0]}x{pil.size[1]} but its message "
                                 f"part says {part['width']}x{part['height']}")
            mp = part.get("max_pixels", max_pixels if max_pixels is not None else counter.max_pixels)
            out = processor(images=[pil.convert("RGB")], return_tensors="np",
                            size={"shortest_edge": counter.min_pixels, "longest_edge": int(mp)})
            thw = tuple(int(x) for x in out["image_grid_thw"][0])
            if thw != g.thw:
                raise ValueError(f"sample {sample_id}: image {k} grid {thw} from the image processor differs from "
                                 f"the TokenCounter's {g.thw}")
            pvs.append(out["pixel_values"])
            grids.append(thw)
        pixel_values = torch.from_numpy(np.concatenate(pvs, axis=0))
        grid_thw = torch.tensor(grids, dtype=torch.long)
    ids = torch.tensor(enc.input_ids, dtype=torch.long)
    return EncodedSample(
        sample_id=sample_id, input_ids=ids,
        labels=torch.tensor(shifted_labels(enc.input_ids, enc.assistant_mask), dtype=torch.long),
        mm_token_type_ids=(ids == counter.image_pad_id).to(torch.int32),
        pixel_values=pixel_values, image_grid_thw=grid_thw,
    )


def encode_row(counter: TokenCounter, processor, row: dict) -> EncodedSample:
    """A schema.SAMPLES row (messages JSON, JPEG bytes per image part, per-sample max_pixels, exact n_tokens)."""
    try:
        messages = json.loads(row["messages"])
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"sample {row.get('sample_id')}: messages are not valid JSON ({e})") from None
    return encode_messages(counter, processor, messages, list(row.get("images") or []),
                           max_pixels=row.get("max_pixels") or None, sample_id=row.get("sample_id", ""),
                           n_tokens=row.get("n_tokens"))
