"""Trainer throughput on one GPU: tokens/s, MFU and peak memory at 32K / 64K / 128K, ours vs transformers, each
beside `mmprolong plan`'s memory estimate for the same setup.

Side by side in one run on the same synthetic documents (page images with random pixels, exact token layout):
  ours      packed samples (two documents per sequence), per-sample mRoPE positions, `model.attn_implementation:
            auto` (flash-attn's varlen kernel when installed, else torch's varlen kernel / FlexAttention through
            train.varlen, the vision tower's window and full blocks included), chunked loss on answer tokens,
            gradient checkpointing (LM + vision); on OOM once more with activation offload
  baseline  transformers as a user would run it fairly: one document per forward, gradient checkpointing, its best
            available attention (flash_attention_2 when flash-attn is installed, else sdpa), loss through `labels`
            (full [L, vocab] logits)
An OOM is a result and is recorded. Model: Qwen2.5-VL-7B shape with random weights (bf16 parameters and gradients,
no optimizer). The timed unit is forward + backward of one sequence (the AdamW step is <1% of a 4M-token step and
needs fp32 states that do not fit one GPU beside 128K activations); MFU counts model FLOPs including attention
(mmprolong.train.plan.step_flops). The plan column is `plan(..., gpus=1, state_bytes=4, fsdp=False)` with the
documents' own image-token share: the same setup as the measurement. A time budget (default 450 s) skips what
would not finish: one command under 8 minutes on one H200.

  python bench/train.py                       # on a GPU: the three lengths, updates bench/results/train.md
  python bench/train.py --smoke               # CPU check of the script itself with a tiny model (~1 minute)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path

import torch

from mmprolong.train.encode import EncodedSample
from mmprolong.train.lm import LongLM
from mmprolong.train.memtrack import PeakMemory
from mmprolong.train.model import build_model, enable_checkpointing, extend_context, preset_config, resolve_attn
from mmprolong.train.pack import pack_samples
from mmprolong.train.plan import device_peak_flops, plan, step_flops
from mmprolong.train.varlen import ATTN_NAME

BEGIN, END = "<!-- bench/train.py: begin -->", "<!-- bench/train.py: end -->"

IMAGE_PAD, V_START, V_END = 151655, 151652, 151653


def document(length: int, grid_hw: tuple[int, int], vc, seed: int, answer: int = 64) -> EncodedSample:
    """A document of page images and text filling exactly `length` tokens; the last `answer` tokens are targets."""
    g = torch.Generator().manual_seed(seed)
    gh, gw = grid_hw
    per_page = gh * gw // vc.spatial_merge_size ** 2
    n_pages = max(1, (length - answer - 64) // (per_page + 2 + 16))
    ids: list[int] = []
    for _ in range(n_pages):
        ids += torch.randint(1000, 100000, (16,), generator=g).tolist() + [V_START] + [IMAGE_PAD] * per_page + [V_END]
    ids += torch.randint(1000, 100000, (length - len(ids),), generator=g).tolist()
    input_ids = torch.tensor(ids)
    labels = torch.full_like(input_ids, -100)
    labels[-answer - 1:-1] = input_ids[-answer:]
    patch_dim = vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2
    grids = torch.tensor([[1, gh, gw]] * n_pages)
    return EncodedSample(f"doc{seed}", input_ids, labels, (input_ids == IMAGE_PAD).to(torch.int32),
                         torch.randn(n_pages * gh * gw, patch_dim, generator=g), grids)


def _measure(fn, device, repeats: int, baseline=()):
    """Mean seconds of `repeats` calls after a warm-up, and the peak GiB of one call (CUDA: the allocator's peak;
    CPU: live tensor storages, `mmprolong.train.memtrack`, in a separate untimed call)."""
    fn()  # warm-up (kernels, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) / repeats, torch.cuda.max_memory_allocated() / 2**30
    sec = (time.perf_counter() - t0) / repeats
    with PeakMemory(baseline) as pm:
        fn()
    return sec, pm.peak_bytes / 2**30


def baseline_attn(device: torch.device) -> str:
    """transformers' best attention here: flash_attention_2 when flash-attn is installed on a GPU, else sdpa."""
    if device.type == "cuda":
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def run_row(row: dict, args) -> dict:
    """Measure one row (kind, length, offload) in this process: tokens/s, MFU and peak GiB, or OOM."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    dtype = torch.float32 if args.fp32 else torch.bfloat16
    length = row["length"]
    config = extend_context(preset_config(args.preset), length, rope_theta=4e6)
    vc, tc = config.vision_config, config.get_text_config()
    docs = [document(length // 2, args.grid, vc, 2 * length + k) for k in range(2)]
    n_targets = sum(int((d.labels != -100).sum()) for d in docs)
    # the same useful work for both trainers: the LM head counted on answer tokens only (what the loss needs)
    flops = step_flops(tc, vc, [len(d) for d in docs], [int(g.prod()) for d in docs for g in d.image_grid_thw],
                       n_targets=n_targets)
    if row["kind"] == "ours":
        attn = ATTN_NAME if device.type == "cpu" else resolve_attn("auto", device)
    else:
        attn = baseline_attn(device)
    res = {"attn": attn + (" +offload" if row.get("offload") else ""), "device": device.type}
    res.update(measure(row["kind"], config, dtype, attn, device, docs, bool(row.get("offload")), args.repeats))
    if "seconds" in res:
        peak_flops = device_peak_flops(device)
        res.update(tokens_per_s=length / res["seconds"],
                   mfu=flops / res["seconds"] / peak_flops if peak_flops else None)
    return res


def measure(kind, config, dtype, attn, device, docs, offload: bool, repeats: int) -> dict:
    """Build the model, run a warm-up and `repeats` timed forward + backward passes; OOM is a result."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    hf = None
    try:
        hf = build_model(config, dtype, attn if kind == "ours" else attn, device)
        hf.train()
        hf.config.use_cache = False
        if kind == "ours":
            enable_checkpointing(hf, offload=offload)
            lm = LongLM(hf, loss_chunk=4096)
            pk = pack_samples(docs, hf.model.get_rope_index).to(device)

            def step():
                lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values.to(dtype), pk.image_grid_thw).backward()
        else:
            hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

            def step():
                for d in docs:
                    out = hf(input_ids=d.input_ids[None].to(device), pixel_values=d.pixel_values.to(device, dtype),
                             image_grid_thw=d.image_grid_thw.to(device),
                             mm_token_type_ids=d.mm_token_type_ids[None].to(device),
                             labels=torch.cat([d.labels.new_full((1,), -100), d.labels[:-1]])[None]
                             .to(device))  # unshifted: transformers shifts
                    out.loss.backward()
        sec, mem = _measure(step, device, repeats, baseline=list(hf.parameters()))
        return {"seconds": sec, "peak_gib": mem}
    except (torch.OutOfMemoryError, RuntimeError) as e:
        if not _is_oom(e):
            raise
        return {"error": "OOM"}
    finally:
        if hf is not None:
            hf.zero_grad(set_to_none=True)
        del hf
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def markdown_rows(rows: list[dict], preset: str, device_name: str, repeats: int = 1) -> str:
    lines = [f"## GPU throughput: ours vs transformers (bench/gpu_session.py, {dt.date.today()})", "",
             f"{device_name}; model {preset} (random weights, bf16 parameters and gradients, no optimizer); "
             f"forward + backward of one sequence after a warm-up, mean of {repeats}; each row its own process.", "",
             "| length | trainer | attention | tokens/s | MFU | peak GiB | plan GiB (same setup) | peak / plan "
             "| wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        plan_gib = f"{r['plan_gib']:.2f}"
        wall = f"{r['wall_s']:.0f}" if "wall_s" in r else "-"
        if "error" in r:
            lines.append(f"| {r['length']:,} | {r['kind']} | {r.get('attn', '-')} | {r['error']} | - | - | "
                         f"{plan_gib} | - | {wall} |")
            continue
        mfu = "n/a" if r.get("mfu") is None else f"{r['mfu']:.1%}"
        ratio = r["peak_gib"] / r["plan_gib"]
        lines.append(f"| {r['length']:,} | {r['kind']} | {r['attn']} | {r['tokens_per_s']:,.0f} | {mfu} | "
                     f"{r['peak_gib']:.2f} | {plan_gib} | {ratio:.2f} | {wall} |")
    lines += ["", "MFU: model FLOPs (mmprolong.train.plan.step_flops: matmuls x3 for forward + backward, causal "
              "attention, the LM head on answer tokens only, recomputation not counted) / seconds / the card's dense "
              "bf16 peak (989 TFLOP/s for H100 and H200).",
              "Paper: ~514 tokens/s per H20 (148 TFLOPS) for 7B at 128K; goal on H100/H200: MFU >= 40% at 128K."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, md: str) -> None:
    """Replace this script's section of the results file (between its markers), keeping the rest."""
    text = path.read_text() if path.exists() else "# Trainer (bench/train.py, bench/train_loading.py)\n"
    block = f"{BEGIN}\n{md}{END}\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row", required=True, help='JSON: {"kind": "ours"|"baseline", "length": N, "offload": bool}')
    ap.add_argument("--row-out", required=True, help="where the row's JSON result goes")
    ap.add_argument("--preset", default="qwen2.5-vl-7b")
    ap.add_argument("--grid", type=int, nargs=2, default=[112, 88],
                    help="page grid (h, w) in patches; default: a letter page at 144 DPI, 2,464 tokens")
    ap.add_argument("--repeats", type=int, default=1, help="timed passes after the warm-up")
    ap.add_argument("--cpu", action="store_true", help="run on CPU (the rehearsal)")
    ap.add_argument("--fp32", action="store_true", help="fp32 compute and weights (the CPU rehearsal: CPU bf16 "
                                                         "convolution backward is orders of magnitude slower)")
    args = ap.parse_args(argv)
    args.grid = tuple(args.grid)
    if not args.cpu and not torch.cuda.is_available():
        print("bench/train.py needs a GPU (or --cpu for the rehearsal); nothing measured", file=sys.stderr)
        return 1
    res = run_row(json.loads(args.row), args)
    Path(args.row_out).write_text(json.dumps(res))
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
