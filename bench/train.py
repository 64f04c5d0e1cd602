"""Trainer throughput on one GPU: tokens/s, MFU and peak memory at 32K / 64K / 128K, ours vs plain transformers.

Side by side in one run on the same synthetic documents (page images with random pixels, exact token layout):
  ours      packed samples (two documents per sequence), per-sample mRoPE positions, varlen flash attention
            (PyTorch SDPA per document without flash-attn), chunked loss on answer tokens, gradient
            checkpointing (LM + vision)
  baseline  plain transformers: one document per forward, sdpa attention, full [L, vocab] logits loss through
            `labels`, no checkpointing
Model: Qwen2.5-VL-7B shape with random weights (bf16 parameters and gradients). The timed unit is forward +
backward of one sequence (the AdamW step is <1% of a 4M-token step and needs fp32 states that do not fit one GPU
beside 128K activations); MFU counts model FLOPs including attention (mmprolong.train.plan.step_flops).

  python bench/train.py                       # on a GPU: the three lengths, writes bench/results/train.md
  python bench/train.py --smoke               # CPU check of the script itself with a tiny model
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
from pathlib import Path

import torch

from mmprolong.train.encode import EncodedSample
from mmprolong.train.lm import LongLM
from mmprolong.train.model import build_model, enable_checkpointing, extend_context, preset_config, resolve_attn
from mmprolong.train.pack import pack_samples
from mmprolong.train.plan import device_peak_flops, plan, step_flops

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


def _measure(fn, device, repeats: int):
    fn()  # warm-up (kernels, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / repeats
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return sec, peak


def run(args) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    preset = "tiny-qwen2.5-vl" if args.smoke else args.preset
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    config = extend_context(preset_config(preset), max(args.lengths), rope_theta=4e6)
    vc, tc = config.vision_config, config.get_text_config()
    peak_flops = device_peak_flops(device)
    rows = []
    for length in args.lengths:
        docs = [document(length // 2, args.grid, vc, 2 * length + k) for k in range(2)]
        for kind in ("ours", "baseline"):
            attn = resolve_attn("auto", device) if kind == "ours" else "sdpa"
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            hf = build_model(config, dtype, attn, device)
            row = {"length": length, "kind": kind, "attn": attn}
            try:
                if kind == "ours":
                    enable_checkpointing(hf)
                    lm = LongLM(hf, loss_chunk=4096)
                    pk = pack_samples(docs, hf.model.get_rope_index).to(device)

                    def step():
                        lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values.to(dtype),
                           pk.image_grid_thw).backward()
                else:
                    def step():
                        for d in docs:
                            out = hf(input_ids=d.input_ids[None].to(device),
                                     pixel_values=d.pixel_values.to(device, dtype),
                                     image_grid_thw=d.image_grid_thw.to(device),
                                     mm_token_type_ids=d.mm_token_type_ids[None].to(device),
                                     labels=torch.cat([d.labels.new_full((1,), -100), d.labels[:-1]])[None]
                                     .to(device))  # unshifted: transformers shifts
                            out.loss.backward()
                sec, mem = _measure(step, device, args.repeats)
                # the same useful work for both rows: the LM head counted on answer tokens only (what the loss
                # needs); the baseline's full [L, vocab] logits are its own overhead, not model FLOPs
                flops = step_flops(tc, vc, [len(d) for d in docs],
                                   [int(g.prod()) for d in docs for g in d.image_grid_thw],
                                   n_targets=sum(int((d.labels != -100).sum()) for d in docs))
                row.update(seconds=sec, tokens_per_s=length / sec, peak_gib=mem,
                           mfu=flops / sec / peak_flops if peak_flops else None)
            except torch.OutOfMemoryError:
                row.update(error="OOM")
            finally:
                hf.zero_grad(set_to_none=True)
                del hf
            rows.append(row)
            print(row, flush=True)
    return rows


def markdown(rows: list[dict], args, device_name: str) -> str:
    est = {}
    if not args.smoke:
        config = preset_config(args.preset)
        for length in args.lengths:
            est[length] = plan(config, args.preset, length, gpus=1).activations_gib
    lines = [f"# Trainer throughput (bench/train.py)", "",
             f"{dt.date.today()} on {device_name}; model {('tiny-qwen2.5-vl' if args.smoke else args.preset)} "
             f"(random weights), page grid {args.grid[0]}x{args.grid[1]} patches; forward + backward of one "
             f"sequence, mean of {args.repeats}.", "",
             "| length | trainer | attention | tokens/s | MFU | peak GiB | plan: activations GiB |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['length']:,} | {r['kind']} | {r['attn']} | {r['error']} | - | - | - |")
            continue
        mfu = "n/a" if r["mfu"] is None else f"{r['mfu']:.1%}"
        lines.append(f"| {r['length']:,} | {r['kind']} | {r['attn']} | {r['tokens_per_s']:,.0f} | {mfu} | "
                     f"{r['peak_gib']:.1f} | {est.get(r['length'], float('nan')):.1f} |")
    lines += ["", "Paper: ~514 tokens/s per H20 (148 TFLOPS) for 7B at 128K; goal on H100/H200: MFU >= 40% at 128K."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="qwen2.5-vl-7b")
    ap.add_argument("--lengths", type=int, nargs="+", default=[32768, 65536, 131072])
    ap.add_argument("--grid", type=int, nargs=2, default=[112, 88],
                    help="page grid (h, w) in patches; default: a letter page at 144 DPI, 2,464 tokens")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny model on CPU at short lengths (checks the script)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train.md"))
    args = ap.parse_args(argv)
    if args.smoke:
        args.lengths, args.grid, args.repeats = [256, 512], [4, 4], 1
    elif not torch.cuda.is_available():
        print("bench/train.py needs a GPU (or --smoke for a CPU check); nothing measured", file=sys.stderr)
        return 1
    rows = run(args)
    name = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.smoke else "CPU (smoke)"
    md = markdown(rows, args, name)
    print(md)
    if not args.smoke:
        Path(args.out).write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
