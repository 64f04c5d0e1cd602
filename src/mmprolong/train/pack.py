"""Packing encoded samples into one padding-free sequence with per-sample mRoPE positions.

Positions come from the model's own `get_rope_index`, applied to each sample alone, and are laid out as
[4, 1, L]: row 0 is the text position (0..n-1 per sample, which transformers turns into a block-diagonal mask on
sdpa/eager and into varlen cu_seqlens on flash attention, and train.varlen into per-document SDPA), rows 1-3 the
sample's own mRoPE (t, h, w) rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .encode import EncodedSample

RopeIndexFn = Callable[..., tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Pack:
    input_ids: torch.Tensor         # [1, L]
    position_ids: torch.Tensor      # [4, 1, L]
    labels: torch.Tensor            # [1, L], shifted per sample
    pixel_values: torch.Tensor | None
    image_grid_thw: torch.Tensor | None
    seq_lens: list[int]
    sample_ids: list[str]

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def n_targets(self) -> int:
        return int((self.labels != -100).sum())

    def to(self, device: torch.device) -> "Pack":
        mv = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Pack(mv(self.input_ids), mv(self.position_ids), mv(self.labels), mv(self.pixel_values),
                    mv(self.image_grid_thw), self.seq_lens, self.sample_ids)


def sample_positions(sample: EncodedSample, rope_index: RopeIndexFn) -> torch.Tensor:
    """[4, n] positions of one sample alone: text row, then the model's rope index rows."""
    kw = {}
    if sample.image_grid_thw is not None:
        kw["image_grid_thw"] = sample.image_grid_thw
    mrope, _ = rope_index(sample.input_ids[None], mm_token_type_ids=sample.mm_token_type_ids[None], **kw)
    text = torch.arange(len(sample), dtype=mrope.dtype)[None]
    return torch.cat([text, mrope[:, 0]], dim=0)


def pack_samples(samples: list[EncodedSample], rope_index: RopeIndexFn, max_length: int | None = None) -> Pack:
    """Concatenate whole samples (never cut: a pack over max_length is an error) with per-sample positions."""
    if not samples:
        raise ValueError("cannot pack zero samples")
    total = sum(len(s) for s in samples)
    if max_length is not None and total > max_length:
        raise ValueError(f"pack of {len(samples)} samples has {total} tokens > max_length {max_length}")
    pv = [s.pixel_values for s in samples if s.pixel_values is not None]
    grids = [s.image_grid_thw for s in samples if s.image_grid_thw is not None]
    return Pack(
        input_ids=torch.cat([s.input_ids for s in samples])[None],
        position_ids=torch.cat([sample_positions(s, rope_index) for s in samples], dim=1)[:, None],
        labels=torch.cat([s.labels for s in samples])[None],
        pixel_values=torch.cat(pv) if pv else None,
        image_grid_thw=torch.cat(grids) if grids else None,
        seq_lens=[len(s) for s in samples],
        sample_ids=[s.sample_id for s in samples],
    )
