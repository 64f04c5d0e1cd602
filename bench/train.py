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
import sys
import time
from pathlib import Path

import torch

from mmprolong.train.encode import EncodedSample
from mmprolong.train.lm import LongLM
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


def run(args, on_row=lambda rows: None) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    preset = "tiny-qwen2.5-vl" if args.smoke else args.preset
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    config = extend_context(preset_config(preset), max(args.lengths), rope_theta=4e6)
    vc, tc = config.vision_config, config.get_text_config()
    peak_flops = device_peak_flops(device)
    gpu_gib = torch.cuda.get_device_properties(device).total_memory / 2**30 if device.type == "cuda" else 0.0
    t0 = time.perf_counter()
    rows = []
    for length in args.lengths:
        docs = [document(length // 2, args.grid, vc, 2 * length + k) for k in range(2)]
        image_frac = sum(int(d.mm_token_type_ids.sum()) for d in docs) / length
        n_targets = sum(int((d.labels != -100).sum()) for d in docs)
        # the same useful work for both rows: the LM head counted on answer tokens only (what the loss needs)
        flops = step_flops(tc, vc, [len(d) for d in docs], [int(g.prod()) for d in docs for g in d.image_grid_thw],
                           n_targets=n_targets)
        for kind in ("ours", "baseline"):
            attn = (ATTN_NAME if args.smoke else resolve_attn("auto", device)) if kind == "ours" \
                else baseline_attn(device)
            if kind == "ours":
                est = plan(config, preset, length, gpus=1, gpu_mem_gib=gpu_gib, image_fraction=image_frac,
                           target_fraction=n_targets / length, state_bytes=4, fsdp=False)
            else:  # one document per forward, full logits
                est = plan(config, preset, length // 2, gpus=1, gpu_mem_gib=gpu_gib, image_fraction=image_frac,
                           target_fraction=1.0, loss_chunk=length, state_bytes=4, fsdp=False)
            for offload in ((False, True) if kind == "ours" and device.type == "cuda" else (False,)):
                row = {"length": length, "kind": kind, "attn": attn + (" +offload" if offload else ""),
                       "plan_gib": est.total_gib}
                rows.append(row)
                if time.perf_counter() - t0 > args.budget_s:
                    row["error"] = "skipped (time budget)"
                    print(row, flush=True)
                    break
                row.update(measure(kind, config, dtype, attn, device, docs, offload, args.repeats))
                if "seconds" in row:
                    row.update(tokens_per_s=length / row["seconds"],
                               mfu=flops / row["seconds"] / peak_flops if peak_flops else None)
                print(row, flush=True)
                on_row(rows)  # results so far survive a timeout
                if row.get("error") != "OOM":
                    break
    return rows


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
        sec, mem = _measure(step, device, repeats)
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


def markdown(rows: list[dict], args, device_name: str) -> str:
    lines = [f"## GPU throughput: ours vs transformers (bench/train.py, {dt.date.today()})", "",
             f"{device_name}; model {('tiny-qwen2.5-vl' if args.smoke else args.preset)} (random weights, bf16 "
             f"parameters and gradients, no optimizer), page grid {args.grid[0]}x{args.grid[1]} patches; forward + "
             f"backward of one sequence after a warm-up, mean of {args.repeats}; torch {torch.__version__}.", "",
             "| length | trainer | attention | tokens/s | MFU | peak GiB | plan GiB (same setup) | peak / plan |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        plan_gib = f"{r['plan_gib']:.1f}"
        if "error" in r:
            lines.append(f"| {r['length']:,} | {r['kind']} | {r['attn']} | {r['error']} | - | - | {plan_gib} | - |")
            continue
        mfu = "n/a" if r["mfu"] is None else f"{r['mfu']:.1%}"
        ratio = r["peak_gib"] / r["plan_gib"] if r["peak_gib"] == r["peak_gib"] else float("nan")
        lines.append(f"| {r['length']:,} | {r['kind']} | {r['attn']} | {r['tokens_per_s']:,.0f} | {mfu} | "
                     f"{r['peak_gib']:.1f} | {plan_gib} | {ratio:.2f} |")
    lines += ["", "Paper: ~514 tokens/s per H20 (148 TFLOPS) for 7B at 128K; goal on H100/H200: MFU >= 40% at 128K."]
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
    ap.add_argument("--preset", default="qwen2.5-vl-7b")
    ap.add_argument("--lengths", type=int, nargs="+", default=[32768, 65536, 131072])
    ap.add_argument("--grid", type=int, nargs=2, default=[112, 88],
                    help="page grid (h, w) in patches; default: a letter page at 144 DPI, 2,464 tokens")
    ap.add_argument("--repeats", type=int, default=1, help="timed passes after the warm-up")
    ap.add_argument("--budget-s", type=float, default=450.0, help="skip rows that would start after this many s")
    ap.add_argument("--smoke", action="store_true", help="tiny model on CPU at short lengths (checks the script)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train.md"))
    args = ap.parse_args(argv)
    if args.smoke:
        args.lengths, args.grid, args.repeats = [256], [4, 4], 1
    elif not torch.cuda.is_available():
        print("bench/train.py needs a GPU (or --smoke for a CPU check); nothing measured", file=sys.stderr)
        return 1
    name = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.smoke else "CPU (smoke)"

    def on_row(rows):
        if not args.smoke:
            write_section(Path(args.out), markdown(rows, args, name))

    rows = run(args, on_row)
    md = markdown(rows, args, name)
    print(md)
    if not args.smoke:
        write_section(Path(args.out), md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
