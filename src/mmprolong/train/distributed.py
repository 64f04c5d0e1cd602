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


def shard_from_rank0(lm: nn.Module, layout: Layout, bf16: bool, cpu_offload: bool) -> nn.Module:
    """Lean FSDP2 start: rank 0 holds the real weights (read or initialised once per node), every other rank built
    the model on the meta device. Rank 0 keeps a reference to its full state dict and turns its own module into
    meta too; every rank shards the meta module, allocates only its shards (`to_empty`), and the weights come from
    rank 0 through `set_model_state_dict(full_state_dict, broadcast_from_rank0)`: one tensor at a time, each rank
    keeping its shard. Buffers (rotary frequencies; not in the state dict when non-persistent) are broadcast from
    rank 0 as well. Host memory per node: rank 0's one model copy, plus each rank's shard."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    full: dict = {}
    bufs: list[torch.Tensor] = []
    if layout.is_main:
        full = lm.state_dict()
        bufs = [b.detach().clone() for _, b in lm.named_buffers()]
        lm.to("meta")
    shard(lm, layout, bf16=bf16, cpu_offload=cpu_offload)
    device = torch.device("cpu") if cpu_offload else layout.device
    lm.to_empty(device=device)
    for i, (_, b) in enumerate(lm.named_buffers()):
        with torch.no_grad():
            t = bufs[i].to(layout.device) if layout.is_main else torch.empty_like(b, device=layout.device)
            dist.broadcast(t, src=0)
            b.copy_(t)
    set_model_state_dict(lm, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True,
                                                            cpu_offload=cpu_offload))
    del full, bufs
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
