"""The training forward: vision tower, language model (transformers' own modules) and chunked loss, one module.

One module so that FSDP2 shards it as a whole and its forward returns the loss SUM over this rank's target tokens
(the caller divides by the step's global target count). Image features are computed here and handed to the model
as `mm_encoder_outputs`, which lets sequence-parallel ranks split the vision work by whole images, all-gather
the features and keep the rows of their own sequence shard: an image span may cross a shard boundary, an image
is never encoded in pieces.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed._functional_collectives import all_gather_tensor_autograd
from torch import nn
from transformers.masking_utils import create_causal_mask

from .compat import require_trainer_support
from .loss import chunked_cross_entropy, plain_cross_entropy
from .ulysses import ATTN_NAME, UlyssesContext, check_degree, register

# Attentions that take transformers' dense [L, L] document mask (bool for sdpa: L^2 bytes, 16 GiB at 128K on every
# SP rank; float for eager, 4x): refused beyond this many tokens.
DENSE_MASK_ATTN = ("sdpa", "eager")
DENSE_MASK_MAX_TOKENS = 32768


def check_dense_mask(attn: str, length: int, limit: int = DENSE_MASK_MAX_TOKENS) -> None:
    if attn in DENSE_MASK_ATTN and length > limit:
        from .varlen import ATTN_NAME as PACKED

        gib = length * length * (1 if attn == "sdpa" else 4) / 2**30
        raise ValueError(f"attention '{attn}' would build a dense [{length}, {length}] document mask ({gib:.1f} GiB) "
                         f"for a packed sequence of {length:,} tokens (limit {limit:,}); use "
                         f"model.attn_implementation '{PACKED}' (or 'auto', or 'flash_attention_2' where flash-attn "
                         "is installed): document-masked attention without a dense mask")


def split_images(patches: list[int], sp: int) -> list[tuple[int, int]]:
    """Contiguous image ranges per rank with balanced patch counts (an image goes to the rank whose share its
    midpoint falls in; some ranks may get none)."""
    total = sum(patches)
    bounds, start, acc = [], 0, 0
    for r in range(sp):
        target = total * (r + 1) / sp
        end = start
        while end < len(patches) and (r == sp - 1 or acc + patches[end] / 2 <= target):
            acc += patches[end]
            end += 1
        bounds.append((start, end))
        start = end
    return bounds


class LongLM(nn.Module):
    def __init__(self, hf: nn.Module, loss_chunk: int = 4096, fused_loss: bool = True,
                 sp_group: dist.ProcessGroup | None = None, sp: int = 1, distributed: bool = False,
                 dense_mask_max: int = DENSE_MASK_MAX_TOKENS):
        super().__init__()
        require_trainer_support()
        self.dense_mask_max = dense_mask_max
        self.hf = hf
        self.loss_chunk = loss_chunk
        self.fused_loss = fused_loss
        self.sp = sp
        self.sp_group = sp_group
        self.distributed = distributed  # every rank must run every sharded module (FSDP collectives)
        tc = hf.config.get_text_config()
        self.image_token_id = hf.config.image_token_id
        eos = getattr(tc, "eos_token_id", None)
        self.pad_id = eos if isinstance(eos, int) else 0
        vc = hf.config.vision_config
        self._patch_dim = vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2
        self._merge = vc.spatial_merge_size
        self.inner_attn = tc._attn_implementation
        if sp > 1:
            check_degree(sp, tc.num_attention_heads, tc.num_key_value_heads)
            register()
            tc._attn_implementation = ATTN_NAME

    # -- vision -------------------------------------------------------------------------------------------------
    def _encode(self, pixel_values: torch.Tensor | None, grid: torch.Tensor | None):
        """Features of the given images as one [tokens, D * (1 + deepstack)] tensor (or a dummy when none)."""
        model = self.hf.model
        dummy = pixel_values is None or grid is None or grid.shape[0] == 0
        if dummy:
            if not self.distributed:
                return None, None
            m = self._merge
            grid = torch.tensor([[1, m, m]], device=self.hf.device)
            pixel_values = torch.zeros(m * m, self._patch_dim, device=self.hf.device)
        out = model.get_image_features(pixel_values, grid, return_dict=True)
        self._out_type = type(out)
        feats = [torch.cat(list(out.pooler_output), dim=0)]
        deep = getattr(out, "deepstack_features", None) or []
        feats += [torch.cat(list(d), dim=0) for d in deep]
        flat = torch.cat(feats, dim=-1)
        if dummy:
            return flat[:0], 0.0 * flat.sum()
        return flat, None

    def _image_features(self, pixel_values, grid, input_ids, start: int, end: int):
        """The image-feature rows for the image tokens in [start, end) of the packed sequence, plus a zero term
        that keeps a rank's vision tower in the graph when it encoded nothing."""
        aux = None
        if self.sp == 1:
            flat, aux = self._encode(pixel_values, grid)
        else:
            n_img = 0 if grid is None else grid.shape[0]
            patches = [] if grid is None else grid.prod(-1).tolist()
            bounds = split_images(patches, self.sp)
            rank = dist.get_rank(self.sp_group)
            a, b = bounds[rank]
            p0, p1 = sum(patches[:a]), sum(patches[:b])
            mine_pv = pixel_values[p0:p1] if b > a else None
            mine_grid = grid[a:b] if b > a else None
            local, aux = self._encode(mine_pv, mine_grid)
            if local is None:  # no images anywhere and not distributed: cannot happen when sp > 1
                return None, None
            rows = [int(grid[i].prod()) // self._merge ** 2 for i in range(n_img)]
            counts = [sum(rows[x:y]) for x, y in bounds]
            width = local.shape[-1]
            pad = max(counts) if counts else 0
            buf = torch.zeros(pad, width, dtype=local.dtype, device=local.device)
            buf = torch.cat([local, buf[local.shape[0]:]], dim=0) if pad else local
            if pad == 0:  # no image in the pack: the same on every rank of the group, so nobody gathers
                return None, aux
            gathered = all_gather_tensor_autograd(buf.contiguous(), 0, self.sp_group)
            gathered = gathered.wait() if hasattr(gathered, "wait") else gathered
            flat = torch.cat([g[:c] for g, c in zip(gathered.split(pad), counts)], dim=0)
            zero = 0.0 * flat.sum()  # every rank's backward must reach the all-gather (a collective)
            aux = zero if aux is None else aux + zero
        if flat is None:
            return None, aux
        is_img = input_ids[0] == self.image_token_id
        before = int(is_img[:start].sum())
        inside = int(is_img[start:end].sum())
        return flat[before:before + inside], aux

    def _as_encoder_output(self, rows: torch.Tensor):
        """Rows back in the model's own output type (pooled features, and Qwen3-VL's deepstack features)."""
        d = self.hf.config.get_text_config().hidden_size
        parts = rows.split(d, dim=-1)
        kw = {"pooler_output": (parts[0],)}
        if len(parts) > 1:
            kw["deepstack_features"] = [(p,) for p in parts[1:]]
        return self._out_type(**kw)

    # -- forward ------------------------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, labels: torch.Tensor,
                pixel_values: torch.Tensor | None = None, image_grid_thw: torch.Tensor | None = None) -> torch.Tensor:
        """Loss sum over this rank's target tokens of one packed sequence ([1, L] ids/labels, [4, 1, L] positions)."""
        kwargs: dict = {}
        attention_mask = None
        check_dense_mask(self.inner_attn, input_ids.shape[1], self.dense_mask_max)
        if self.sp > 1:
            L = input_ids.shape[1]
            pad = (-L) % self.sp
            if pad:  # a padding "document" of its own: restarts text positions, attends only to itself
                input_ids = torch.cat([input_ids, input_ids.new_full((1, pad), self.pad_id)], dim=1)
                labels = torch.cat([labels, labels.new_full((1, pad), -100)], dim=1)
                pp = torch.arange(pad, device=position_ids.device, dtype=position_ids.dtype)
                position_ids = torch.cat([position_ids, pp.view(1, 1, -1).expand(4, 1, -1)], dim=2)
            L = input_ids.shape[1]
            ls = L // self.sp
            rank = dist.get_rank(self.sp_group)
            start, end = rank * ls, (rank + 1) * ls
            tc = self.hf.config.get_text_config()
            tc._attn_implementation = self.inner_attn  # the full-sequence mask, as the inner attention wants it
            try:
                probe = torch.empty(1, L, 1, device=input_ids.device, dtype=self.hf.dtype)
                # the cache argument by position: `past_key_values` before transformers 5.2x, `cache` after
                full_mask = create_causal_mask(tc, probe, None, None, position_ids=position_ids[0])
            finally:
                tc._attn_implementation = ATTN_NAME
            attention_mask = {"full_attention": full_mask}  # keeps Qwen2.5-VL from building a local mask
            kwargs["ulysses"] = UlyssesContext(self.sp_group, self.sp, self.inner_attn, position_ids[0], full_mask)
        else:
            start, end = 0, input_ids.shape[1]
        rows, aux = self._image_features(pixel_values, image_grid_thw, input_ids, start, end)
        enc = None if rows is None else {"image": self._as_encoder_output(rows)}
        out = self.hf.model(input_ids=input_ids[:, start:end], position_ids=position_ids[:, :, start:end],
                            attention_mask=attention_mask, mm_encoder_outputs=enc, use_cache=False, **kwargs)
        hidden = out.last_hidden_state[0]
        weight = self.hf.lm_head.weight
        y = labels[0, start:end]
        loss = (chunked_cross_entropy(hidden, weight, y, self.loss_chunk) if self.fused_loss
                else plain_cross_entropy(hidden, weight, y))
        return loss if aux is None else loss + aux
