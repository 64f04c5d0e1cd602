"""The LongPT training loop: build, (resume), step over packed shards, log, checkpoint, export.

One step = `sequences_per_step` packs (global batch in tokens / max_length), spread over data-parallel ranks as
gradient-accumulation micro-steps. The loss of a step is the sum over all its target tokens divided by their
global count, however the packs are split over ranks, sequence shards and micro-steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import tokens
from . import checkpoint as ckpt
from . import distributed as D
from .config import TrainConfig
from .data import DataStream, ShardIndex
from .encode import encode_row, image_processor_for
from .lm import LongLM
from .model import build_model, enable_checkpointing, extend_context, load_model, preset_config, resolve_attn
from .pack import Pack, pack_samples
from .plan import device_peak_flops, step_flops


def lr_lambda(total_steps: int, warmup_ratio: float, min_ratio: float):
    """Linear warmup over warmup_ratio of the steps, then cosine down to min_ratio of the peak."""
    warm = max(1, round(warmup_ratio * total_steps))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        span = max(1, total_steps - warm)
        prog = min(1.0, (step - warm) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * prog))

    return f


def planned_steps(cfg: TrainConfig, data: DataStream | ShardIndex) -> int:
    """optim.steps when given; else the first step count at which the packs (whole samples, so never quite full)
    hold optim.total_tokens. Deterministic from the shards' token counts: the same on every rank and on resume."""
    if cfg.optim.steps is not None:
        return cfg.optim.steps
    stream = data if isinstance(data, DataStream) else DataStream.of_index(data)
    return stream.steps_for_tokens(cfg.sequences_per_step(), cfg.optim.total_tokens)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, total_steps: int | None = None):
    """AdamW; no weight decay on biases and norm weights (1-D parameters); warmup + cosine over `total_steps`
    (default: the config's nominal count)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    o = cfg.optim
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=tuple(o.betas))
    total = cfg.total_steps() if total_steps is None else total_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(total, o.warmup_ratio, o.min_lr / o.lr))
    return opt, sched


def use_autocast(cfg: TrainConfig, layout: D.Layout) -> bool:
    """bf16 compute by autocast wherever FSDP2's mixed-precision policy does not provide it (one process, or many
    processes with parallel.fsdp off)."""
    return cfg.model.dtype == "bf16" and not (layout.distributed and cfg.parallel.fsdp)


def counter_name(cfg: TrainConfig, hf_config) -> str:
    if cfg.model.tokenizer:
        return cfg.model.tokenizer
    if cfg.model.path:
        return cfg.model.path
    return "qwen3-vl" if hf_config.model_type.startswith("qwen3") else "qwen2.5-vl"


@dataclass
class Built:
    cfg: TrainConfig
    layout: D.Layout
    hf: torch.nn.Module
    lm: torch.nn.Module
    counter: object
    processor: object
    bf16: bool
    extra: dict = field(default_factory=dict)


def build(cfg: TrainConfig, layout: D.Layout) -> Built:
    """Model (context extended), LongLM wrapper, checkpointing, sharding; the same on every rank."""
    torch.manual_seed(cfg.seed)
    attn = resolve_attn(cfg.model.attn_implementation, layout.device)
    bf16 = cfg.model.dtype == "bf16"
    lean = layout.distributed and cfg.parallel.fsdp  # rank 0 reads the weights, the others get their shards
    empty = lean and not layout.is_main
    if cfg.model.path:
        hf = load_model(cfg.model.path, torch.float32, attn, cfg.data.max_length, cfg.model.rope_theta,
                        cfg.model.yarn_factor, empty=empty)
    else:
        config = preset_config(cfg.model.preset)
        extend_context(config, cfg.data.max_length, cfg.model.rope_theta, cfg.model.yarn_factor)
        hf = build_model(config, torch.float32, attn, device="meta" if empty else "cpu")
    if cfg.model.max_position_embeddings:
        hf.config.get_text_config().max_position_embeddings = cfg.model.max_position_embeddings
    if not lean:
        hf.to(layout.device)
    if cfg.parallel.grad_checkpointing:
        enable_checkpointing(hf, offload=cfg.parallel.activation_offload and layout.device.type == "cuda")
    hf.config.use_cache = False
    lm = LongLM(hf, loss_chunk=cfg.parallel.loss_chunk, sp_group=layout.sp_group, sp=layout.sp,
                distributed=layout.distributed)
    if lean:
        D.shard_from_rank0(lm, layout, bf16=bf16, cpu_offload=cfg.parallel.cpu_offload)
    counter = tokens.load(counter_name(cfg, hf.config))
    return Built(cfg, layout, hf, lm, counter, image_processor_for(counter, cfg.model.path), bf16)


class MetricsLog:
    """metrics.jsonl (always) and TensorBoard (when chosen and installed); truncated to the resumed step."""

    def __init__(self, out: Path, kind: str, resume_step: int, enabled: bool):
        self.path = out / "metrics.jsonl"
        self.enabled = enabled
        self.tb = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # drop steps logged after the checkpoint we resume from (they will be redone)
            kept = [ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln)["step"] <= resume_step]
            self.path.write_text("".join(k + "\n" for k in kept))
        if kind == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ValueError("logger: tensorboard is not installed (pip install tensorboard), or use jsonl") from e
            self.tb = SummaryWriter(str(out / "tb"), purge_step=resume_step + 1)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and v is not None:
                    self.tb.add_scalar(f"train/{k}", v, row["step"])
                elif isinstance(v, dict):  # source_tokens: one curve per source
                    for kk, vv in v.items():
                        self.tb.add_scalar(f"train/{k}/{kk}", vv, row["step"])

    def read(self) -> list[dict]:
        return [json.loads(x) for x in self.path.read_text().splitlines() if x] if self.path.exists() else []


def _peak_memory(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)


def _progress(enabled: bool, total: int, done: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                 TextColumn("{task.fields[info]}"), disable=not enabled)
    task = p.add_task("train", total=total, completed=done, info="")
    return p, task


def output_claim(cfg: TrainConfig):
    """One writer per output folder: the process of global rank 0 holds it (the only process, or torchrun's rank 0);
    the other ranks of the same run write beside it, under its lock."""
    from ..run.outdir import claim

    if int(os.environ.get("RANK", "0") or 0) == 0:
        return claim(cfg.output_dir, "train", "train")
    return contextlib.nullcontext()


def train(cfg: TrainConfig, stop_after: int | None = None, progress: bool = True) -> dict:
    """Run (or resume) training; `stop_after` ends the process's work after that many steps of this call, as a
    kill would (for tests). Returns a summary."""
    with output_claim(cfg):
        layout = D.setup(cfg.parallel.sp)
        try:
            return _train(cfg, layout, stop_after, progress)
        finally:
            D.teardown()


def _train(cfg: TrainConfig, layout: D.Layout, stop_after: int | None, progress: bool) -> dict:
    out = Path(cfg.output_dir)
    b = build(cfg, layout)
    seqs = cfg.sequences_per_step()
    if seqs % layout.dp:
        raise ValueError(f"{seqs} sequences per step (optim.tokens_per_step / data.max_length) do not split over "
                         f"{layout.dp} data-parallel ranks")
    accum = seqs // layout.dp
    stream = DataStream.from_config(cfg.data)
    total_steps = planned_steps(cfg, stream)
    opt, sched = make_optimizer(b.lm, cfg, total_steps)
    step, position = 0, stream.initial_state()
    last = ckpt.latest(out / "checkpoints")
    if last is not None:
        meta = ckpt.load(last, b.lm, opt, sched)
        step, position = meta["step"], stream.restore(meta["position"])
    log = MetricsLog(out, cfg.logger, step, layout.is_main)
    if layout.is_main:
        (out / "config.json").write_text(cfg.model_dump_json(indent=1))
    rope = b.hf.model.get_rope_index
    peak = device_peak_flops(layout.device)
    scale = D.grad_scale(b.lm, layout)
    text_cfg, vis_cfg = b.hf.config.get_text_config(), b.hf.config.vision_config
    autocast = torch.autocast(layout.device.type, dtype=torch.bfloat16, enabled=use_autocast(cfg, layout))
    bar, task = _progress(progress and layout.is_main, total_steps, step)
    done_here = 0

    def prepare(pos) -> tuple[list[Pack], object, dict[str, int]]:
        """This rank's packs of the step starting at data position `pos` (pure: same packs on every run), the
        position after them and the step's tokens per source."""
        packs, after = stream.next_packs(pos, seqs)
        mine = []
        for pk in packs[layout.dp_rank * accum:(layout.dp_rank + 1) * accum]:
            samples = [encode_row(b.counter, b.processor, stream.row(it)) for it in pk]
            mine.append(pack_samples(samples, rope, cfg.data.max_length))
        return mine, after, stream.tokens_by_source(packs)

    pending = None
    loader = ThreadPoolExecutor(1, thread_name_prefix="mmprolong-data")
    with bar, loader:
        while step < total_steps and (stop_after is None or done_here < stop_after):
            t0 = time.perf_counter()
            if layout.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(layout.device)
            if pending is None or pending[0] != position:
                pending = (position, loader.submit(prepare, position))
            mine, new_position, source_tokens = pending[1].result()
            step_tokens = sum(source_tokens.values())
            pending = None
            if step + 1 < total_steps:  # encode the next step's packs while this one computes
                pending = (new_position, loader.submit(prepare, new_position))
            own_targets = sum(p.n_targets for p in mine) if layout.sp_rank == 0 else 0
            n_global = D.all_sum(own_targets, layout.device)
            loss_sum = 0.0
            flops = 0.0
            for pk in mine:
                pk = pk.to(layout.device)
                with autocast:
                    loss = b.lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
                (loss * (scale / n_global)).backward()
                loss_sum += float(loss.detach())
                if layout.sp_rank == 0:
                    flops += step_flops(text_cfg, vis_cfg, pk.seq_lens,
                                        [] if pk.image_grid_thw is None else pk.image_grid_thw.prod(-1).tolist(),
                                        n_targets=pk.n_targets)
            if layout.distributed and not cfg.parallel.fsdp:
                D.all_reduce_grads(b.lm)
            gnorm = torch.nn.utils.clip_grad_norm_(b.lm.parameters(), cfg.optim.grad_clip)
            gnorm = float(gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm)
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            loss_val = D.all_sum(loss_sum, layout.device) / n_global
            flops = D.all_sum(flops, layout.device)
            dt = time.perf_counter() - t0
            step += 1
            done_here += 1
            position = new_position
            row = {"step": step, "loss": loss_val, "lr": lr, "grad_norm": gnorm, "tokens": step_tokens,
                   "targets": int(n_global), "tokens_per_s": step_tokens / dt,
                   "tokens_per_s_per_device": step_tokens / dt / layout.world, "seconds": dt,
                   "mfu": flops / dt / (peak * layout.world) if peak else None,
                   "peak_mem_gib": _peak_memory(layout.device), "position": position,
                   "source_tokens": source_tokens}
            if step % cfg.log_every == 0 or step == total_steps:
                log.write(row)
            bar.update(task, advance=1, info=f"loss {loss_val:.4f} lr {lr:.2e} {row['tokens_per_s']:.0f} tok/s")
            if step % cfg.save_every == 0 or step == total_steps:
                ckpt.save(out / "checkpoints", step, b.lm, opt, sched, {"position": position, "seed": cfg.data.seed},
                          keep=cfg.keep_checkpoints)
    summary = {"step": step, "total_steps": total_steps, "finished": step >= total_steps, "output_dir": str(out)}
    if step >= total_steps and cfg.export:
        summary["export"] = str(out / "hf")
        ckpt.export_hf(out / "hf", b.lm, b.hf, cfg.model.path, dtype=cfg.model.dtype)
        if layout.is_main:
            from .report import write_report

            summary["report"] = str(write_report(out, log.read(), cfg))
    return summary
