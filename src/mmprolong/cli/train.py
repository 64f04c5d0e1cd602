"""`mmprolong train`: LongPT continued pretraining on training shards (one process, or many under torchrun)."""

from __future__ import annotations

import argparse

from ..units import length_arg


def register(sub) -> None:
    p = sub.add_parser("train", help="long-context continued pretraining (run under torchrun for many GPUs)",
                       description=__doc__)
    p.add_argument("--config", help="YAML training config (flags below override it)")
    p.add_argument("--model", help="local Hugging Face model folder (Qwen2.5-VL / Qwen3-VL)")
    p.add_argument("--preset", help="random-weight model preset instead of --model (tiny-qwen2.5-vl, qwen2.5-vl-7b)")
    p.add_argument("--shards", nargs="+", help="training shard files or folders (or data.sources in the config: "
                   "a mixture weighted by tokens)")
    p.add_argument("--out", dest="output_dir", help="output folder (checkpoints, metrics, export)")
    p.add_argument("--max-length", type=length_arg,
                   help="tokens per packed sequence: 131072, 128K or 128k (config: data.max_length)")
    p.add_argument("--rope-theta", type=float, help="mRoPE base after extension (default 4e6)")
    p.add_argument("--yarn-factor", type=float, help="enable YaRN with this factor (default: off; the paper "
                   "extends by the base alone)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], help="training precision (default bf16)")
    p.add_argument("--attn", dest="attn_implementation",
                   help="auto (flash-attn if installed, else mmprolong_packed on CUDA) | sdpa | flash_attention_2 | "
                        "mmprolong_packed | mmprolong_varlen | mmprolong_flex | mmprolong_varlen_sdpa | eager")
    p.add_argument("--lr", type=float, help="peak learning rate (paper: 1e-5)")
    p.add_argument("--tokens-per-step", type=length_arg,
                   help="global batch in tokens, e.g. 4M or 4194304 (paper: 4M = 32 x 128K)")
    p.add_argument("--total-tokens", type=length_arg,
                   help="token budget of the run, e.g. 5000M (paper: 5B); sets the step count")
    p.add_argument("--steps", type=int, help="override the step count derived from the token budget")
    p.add_argument("--sp", type=int, help="Ulysses sequence-parallel degree (paper: 2); must divide the query "
                   "heads")
    p.add_argument("--no-fsdp", action="store_true", help="plain data parallel without FSDP2 sharding")
    p.add_argument("--cpu-offload", action="store_true",
                   help="FSDP2 parameter, gradient and optimizer-state offload to host memory")
    p.add_argument("--no-grad-checkpointing", action="store_true",
                   help="keep all activations (faster, far more memory; see `mmprolong plan`)")
    p.add_argument("--activation-offload", action="store_true", help="checkpointed activations in host memory")
    p.add_argument("--loss-chunk", type=int,
                   help="tokens per chunk of the chunked cross-entropy (bounds the logits' memory; default 4096)")
    p.add_argument("--save-every", type=int, help="checkpoint every N steps (resume: run the same command again)")
    p.add_argument("--logger", choices=["jsonl", "tensorboard"],
                   help="metrics sink besides OUT/metrics.jsonl (default jsonl)")
    p.add_argument("--seed", type=int, help="data order and initialisation seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    sub2 = p.add_subparsers(dest="train_command", metavar="{export}")
    e = sub2.add_parser("export", help="turn a training checkpoint into a Hugging Face model folder",
                        description="Rebuild the run's model, load the weights of CHECKPOINT (OUT/checkpoints/step_N) "
                                    "and write the same Hugging Face folder the run writes at its end.")
    e.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint folder of a training run (OUT/checkpoints/step_NNNNNNNN)")
    e.add_argument("--out", dest="export_out", required=True, metavar="DIR", help="Hugging Face folder to write")
    e.add_argument("--config", dest="export_config",
                   help="training config (default: the run's config.json, OUT/config.json)")
    e.add_argument("--dtype", dest="export_dtype", choices=["bf16", "fp32"],
                   help="weights dtype (default: the training dtype)")
    e.set_defaults(func=run_export)


def overrides(a: argparse.Namespace) -> dict:
    """Only the flags given, as a nested config dict."""
    o: dict = {"model": {}, "data": {}, "optim": {}, "parallel": {}}
    put = lambda sec, key, val: val is not None and o[sec].__setitem__(key, val)  # noqa: E731
    put("model", "path", a.model)
    put("model", "preset", a.preset)
    put("model", "rope_theta", a.rope_theta)
    put("model", "yarn_factor", a.yarn_factor)
    put("model", "dtype", a.dtype)
    put("model", "attn_implementation", a.attn_implementation)
    put("data", "shards", a.shards)
    put("data", "max_length", a.max_length)
    put("optim", "lr", a.lr)
    put("optim", "tokens_per_step", a.tokens_per_step)
    put("optim", "total_tokens", a.total_tokens)
    put("optim", "steps", a.steps)
    put("parallel", "sp", a.sp)
    put("parallel", "loss_chunk", a.loss_chunk)
    if a.no_fsdp:
        o["parallel"]["fsdp"] = False
    if a.cpu_offload:
        o["parallel"]["cpu_offload"] = True
    if a.activation_offload:
        o["parallel"]["activation_offload"] = True
    if a.no_grad_checkpointing:
        o["parallel"]["grad_checkpointing"] = False
    for key in ("output_dir", "save_every", "logger", "seed"):
        if getattr(a, key) is not None:
            o[key] = getattr(a, key)
    if a.model and a.preset:
        raise ValueError("give --model or --preset, not both")
    if a.model:
        o["model"]["preset"] = None
    if a.preset:
        o["model"]["path"] = None
    return {k: v for k, v in o.items() if v != {}}


def run_export(a: argparse.Namespace) -> int:
    from mmprolong.train.export import export_checkpoint

    out = export_checkpoint(a.checkpoint, a.export_out, a.export_config, a.export_dtype)
    print(f"exported {a.checkpoint} to {out}")
    return 0


def run(a: argparse.Namespace) -> int:
    from mmprolong.train.config import load_config, parse_config
    from mmprolong.train.loop import train

    ov = overrides(a)
    cfg = load_config(a.config, ov) if a.config else parse_config(ov)
    if not cfg.data.mixture():
        raise ValueError("no training shards: give --shards, or data.shards or data.sources in the config")
    if cfg.output_dir:
        from .. import logs

        logs.log_to(cfg.output_dir)
    s = train(cfg, progress=not a.no_progress)
    if s.get("report"):
        print(f"trained {s['step']} steps; export: {s.get('export')}; report: {s['report']}")
    return 0
