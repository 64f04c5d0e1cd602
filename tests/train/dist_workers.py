"""Process bodies for the multi-process tests (spawned with torch.multiprocessing; gloo on CPU)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)


IMAGES_PER_SAMPLE = [[1, 0, 0], [0, 0, 0], [2, 1, 0], [0, 3, 1]]  # one image, none, several: every vision path


def tiny_packs(preset: str = "tiny-qwen2.5-vl"):
    """Deterministic packs of real samples (the same in every process)."""
    from helpers import chat

    from mmprolong.tokens import load
    from mmprolong.train.encode import encode_messages, image_processor_for

    counter = load("qwen3-vl" if "qwen3" in preset else "qwen2.5-vl")
    proc = image_processor_for(counter)
    out = []
    for p, n_images in enumerate(IMAGES_PER_SAMPLE):
        samples = []
        for i, n in enumerate(n_images):
            m, im = chat(100 * p + i, n_images=n)
            samples.append(encode_messages(counter, proc, m, im, sample_id=f"{p}-{i}"))
        out.append(samples)
    return out


def build_lm(sp: int, layout, fsdp: bool, fused: bool = True, attn: str = "sdpa", preset: str = "tiny-qwen2.5-vl"):
    from mmprolong.train.distributed import shard
    from mmprolong.train.lm import LongLM
    from mmprolong.train.model import build_model, preset_config

    torch.manual_seed(0)
    if attn == "flash_attention_2":  # flash-attn's name, served by the SDPA-backed stand-in (flash_standin.py)
        from flash_standin import use_flash

        hf = build_model(preset_config(preset), attn_implementation="sdpa").double()  # float64: helpers.assert_same
        use_flash(hf)
    else:
        hf = build_model(preset_config(preset), attn_implementation=attn).double()  # float64: helpers.assert_same
    lm = LongLM(hf, loss_chunk=32, fused_loss=fused, sp_group=layout.sp_group if layout else None, sp=sp,
                distributed=bool(layout and layout.distributed))
    if fsdp and layout is not None and layout.distributed:
        shard(lm, layout, bf16=False, cpu_offload=False)
    return lm


def full_grads(lm) -> dict[str, torch.Tensor]:
    out = {}
    for n, p in lm.named_parameters():
        if p.grad is None:
            continue
        g = p.grad
        out[n] = (g.full_tensor() if hasattr(g, "full_tensor") else g).detach().clone()
    return out


def loss_and_grads(rank: int, world: int, port: int, sp: int, out_dir: str,
                   attns: tuple[str, ...] = ("sdpa",), preset: str = "tiny-qwen2.5-vl") -> None:
    """Each data-parallel rank takes its share of the packs; every rank saves the summed loss and full grads
    (one file per attention implementation: ATTN-rankR.pt)."""
    runs(rank, world, port, sp, out_dir, [(preset, attn, attn) for attn in attns])


def runs(rank: int, world: int, port: int, sp: int, out_dir: str, todo: list[tuple[str, str, str]]) -> None:
    """`loss_and_grads` for several (preset, attention, name) in one process group, in order, each saved as
    NAME-rankR.pt. Each run builds its own model from seed 0, so it is the same computation as in a process of its
    own; one start-up (imports, process group) serves them all."""
    from mmprolong.train import distributed as D
    from mmprolong.train.pack import pack_samples

    _env(rank, world, port)
    layout = D.setup(sp=sp, device="cpu")
    try:
        packs_of: dict[str, list] = {}
        for preset, attn, stem in todo:
            if preset not in packs_of:
                packs_of[preset] = tiny_packs(preset)
            packs = packs_of[preset]
            n_global = sum(sum(s.n_targets for s in p) for p in packs)
            lm = build_lm(sp, layout, fsdp=True, attn=attn, preset=preset)
            rope = lm.hf.model.get_rope_index
            total = 0.0
            for samples in packs[layout.dp_rank::layout.dp]:
                pk = pack_samples(samples, rope)
                loss = lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
                (loss * D.grad_scale(lm, layout) / n_global).backward()
                total += float(loss.detach())
            total = D.all_sum(total, layout.device) / n_global
            extra = {}
            if attn == "flash_attention_2":
                from flash_standin import calls

                extra["flash_calls"] = dict(calls)
            torch.save({"loss": total, "grads": full_grads(lm), **extra}, Path(out_dir) / f"{stem}-rank{rank}.pt")
    finally:
        D.teardown()


def reference_loss_and_grads(preset: str = "tiny-qwen2.5-vl"):
    """The same packs in one process, no sharding, no sequence parallelism."""
    from mmprolong.train.pack import pack_samples

    lm = build_lm(1, None, fsdp=False, preset=preset)
    packs = tiny_packs(preset)
    n = sum(sum(s.n_targets for s in p) for p in packs)
    total = 0.0
    for samples in packs:
        pk = pack_samples(samples, lm.hf.model.get_rope_index)
        loss = lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
        (loss / n).backward()
        total += float(loss.detach())
    return total / n, full_grads(lm)


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def lean_build(rank: int, world: int, port: int, out_dir: str, model: dict, lean: bool = True) -> None:
    """Build through loop.build (rank 0 reads or initialises the weights, the others get their shards); save the
    full state dict gathered from the shards and this process's peak RSS before / after. lean=False: every rank
    builds the whole model and shards it (the old way, for the measurement)."""
    lean_builds(rank, world, port, [(out_dir, model)], lean)


def lean_builds(rank: int, world: int, port: int, runs: list[tuple[str, dict]], lean: bool = True) -> None:
    """`lean_build` for each (out_dir, model) in turn, in one process group (torch started once per process)."""
    from mmprolong.train import distributed as D
    from mmprolong.train.config import parse_config
    from mmprolong.train.loop import build

    rss0 = peak_rss_mib()
    _env(rank, world, port)
    layout = D.setup(sp=1, device="cpu")
    try:
        for i, (out_dir, model) in enumerate(runs):
            before = rss0 if i == 0 else peak_rss_mib()
            cfg = parse_config({"model": {**model, "attn_implementation": "sdpa", "dtype": "fp32"},
                                "data": {"max_length": 4096}, "parallel": {"grad_checkpointing": False}})
            if lean:
                b = build(cfg, layout)
                lm = b.lm
            else:
                from mmprolong.train.lm import LongLM
                from mmprolong.train.model import build_model, extend_context, preset_config

                torch.manual_seed(cfg.seed)
                config = extend_context(preset_config(model["preset"]), 4096, cfg.model.rope_theta, None)
                lm = LongLM(build_model(config, torch.float32, "sdpa"), distributed=True)
                D.shard(lm, layout, bf16=False, cpu_offload=False)
            after = peak_rss_mib()
            sd = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone()
                  for k, v in lm.state_dict().items()}
            bufs = {k: b_.detach().clone() for k, b_ in lm.named_buffers()}
            n_bytes = sum(p.numel() * p.element_size() for p in sd.values())
            torch.save({"state": sd, "buffers": bufs, "rss_before_mib": before, "rss_peak_mib": after,
                        "model_mib": n_bytes / 2**20}, Path(out_dir) / f"lean-rank{rank}.pt")
    finally:
        D.teardown()
