"""Process groups, the (data x sequence) parallel layout, and FSDP2 full sharding.

Ranks are laid out as [dp, sp]: consecutive ranks share one packed sequence (a sequence-parallel group); FSDP2
shards parameters over all ranks. The loss is divided by the step's global target count; FSDP averages gradients
over ranks, so each rank scales its loss by the world size (`grad_scale`) and the result is the plain sum over
all target tokens: it does not depend on how a batch is split. (A divide factor of 1 would need PREMUL_SUM,
which gloo lacks.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Layout:
    rank: int
    world: int
    sp: int
    device: torch.device
    sp_group: dist.ProcessGroup | None = None
    mesh: object | None = None  # 1-D DeviceMesh over all ranks (FSDP)

    @property
    def dp(self) -> int:
        return self.world // self.sp

    @property
    def dp_rank(self) -> int:
        return self.rank // self.sp

    @property
    def sp_rank(self) -> int:
        return self.rank % self.sp

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(sp: int = 1, device: str | None = None) -> Layout:
    """Join the process group torchrun (or the caller) set up through RANK/WORLD_SIZE; one process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    if world % sp:
        raise ValueError(f"parallel.sp={sp} does not divide the {world} processes")
    lay = Layout(rank=rank, world=world, sp=sp, device=dev)
    if world > 1:
        from torch.distributed.device_mesh import init_device_mesh

        lay.mesh = init_device_mesh(dev.type, (world,))
        if sp > 1:
            mesh2 = init_device_mesh(dev.type, (world // sp, sp), mesh_dim_names=("dp", "sp"))
            lay.sp_group = mesh2["sp"].get_group()
    return lay


def teardown() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(lm: nn.Module, layout: Layout, bf16: bool, cpu_offload: bool) -> nn.Module:
    """FSDP2: each decoder layer and vision block its own unit, the rest (embeddings, LM head, merger) the root."""
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    mp = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16
          else MixedPrecisionPolicy())
    kw = dict(mesh=layout.mesh, mp_policy=mp, offload_policy=CPUOffloadPolicy() if cpu_offload else OffloadPolicy())
    hf = lm.hf
    for block in hf.model.visual.blocks:
        fully_shard(block, **kw)
    for layer in hf.model.language_model.layers:
        fully_shard(layer, **kw)
    fully_shard(lm, **kw)
    return lm


def grad_scale(model: nn.Module, layout: Layout) -> float:
    """What a rank multiplies its loss by before backward so that gradients come out summed over ranks."""
    from torch.distributed.fsdp import FSDPModule

    return float(layout.world) if isinstance(model, FSDPModule) else 1.0


def all_reduce_grads(model: nn.Module) -> None:
    """Sum gradients over ranks (the no-FSDP multi-process path)."""
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)


def all_sum(x: float | int, device: torch.device) -> float:
    if not dist.is_initialized():
        return float(x)
    t = torch.tensor(float(x), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t)
