"""Host memory of model loading over 2 processes (gloo, CPU): lean (rank 0 materialises the weights once, the other
rank builds on the meta device; FSDP2 shards; weights broadcast from rank 0) vs every rank building the whole
model before sharding. Peak RSS per process beside the model's fp32 size; prints a markdown table.

  python bench/train_loading.py            # ~1 minute, ~3 GiB of host memory at most
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.multiprocessing as mp

SHAPE = dict(hidden_size=512, num_hidden_layers=16, num_attention_heads=8, num_key_value_heads=2,
             intermediate_size=2816)  # Qwen2.5-VL text shape scaled down to ~0.9 GiB (152K vocabulary)


def rss_mib() -> tuple[float, float]:
    """(peak, current) resident set size of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/statm") as f:
        cur = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return peak, cur


def config():
    import copy

    from transformers import AutoConfig

    from mmprolong.train.model import PRESETS

    kw = copy.deepcopy(PRESETS["tiny-qwen2.5-vl"])
    kw["text_config"].update(SHAPE)
    kw["text_config"]["rope_parameters"]["mrope_section"] = [8, 12, 12]
    kw["vision_config"]["out_hidden_size"] = SHAPE["hidden_size"]
    return AutoConfig.for_model(kw.pop("model_type"), **kw)


def worker(rank: int, world: int, port: int, mode: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from mmprolong.train import distributed as D
    from mmprolong.train.lm import LongLM
    from mmprolong.train.model import build_model

    layout = D.setup(sp=1, device="cpu")
    try:
        base_peak, _ = rss_mib()
        torch.manual_seed(0)
        empty = mode == "lean" and not layout.is_main
        lm = LongLM(build_model(config(), torch.float32, "sdpa", device="meta" if empty else "cpu"),
                    distributed=True)
        if mode == "lean":
            D.shard_from_rank0(lm, layout, bf16=False, cpu_offload=False)
        else:
            D.shard(lm, layout, bf16=False, cpu_offload=False)
        gc.collect()
        D.dist.barrier()
        peak, cur = rss_mib()
        model_mib = sum(p.numel() for p in lm.parameters()) * 4 / 2**20  # DTensor numel: the full size
        shard_mib = sum(p.to_local().numel() for p in lm.parameters()) * 4 / 2**20
        torch.save(dict(mode=mode, rank=rank, base=base_peak, peak=peak, cur=cur, model=model_mib, shard=shard_mib),
                   Path(out) / f"{mode}-{rank}.pt")
    finally:
        D.teardown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("lean", "every-rank"):
            mp.spawn(worker, args=(2, free_port(), mode, tmp), nprocs=2)
            rows += [torch.load(Path(tmp) / f"{mode}-{r}.pt") for r in range(2)]
    model = rows[0]["model"]
    lines = [f"Model: {model:,.0f} MiB of fp32 parameters (Qwen2.5-VL text shape scaled down, 152K vocabulary); "
             "2 processes, gloo, FSDP2 full sharding. RSS growth = peak RSS after sharding minus peak RSS after "
             "imports; on a GPU the rank's own shard lives in device memory, so the last columns leave it out.", "",
             "| loading | rank | RSS growth MiB | model copies | own shard MiB | growth beyond own shard, copies |",
             "|---|---|---|---|---|---|"]
    per_mode: dict[str, float] = {}
    for r in rows:
        grow = r["peak"] - r["base"]
        per_mode[r["mode"]] = per_mode.get(r["mode"], 0.0) + grow
        lines.append(f"| {r['mode']} | {r['rank']} | {grow:,.0f} | {grow / model:.2f} | {r['shard']:,.0f} | "
                     f"{(grow - r['shard']) / model:.2f} |")
    lines += ["", "| loading | node total RSS growth, model copies |", "|---|---|"]
    lines += [f"| {m} | {v / model:.2f} |" for m, v in per_mode.items()]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
