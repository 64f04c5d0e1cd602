"""Export to ms-swift: JSONL records `{"messages": [...], "images": [...]}` with `<image>` tags in the content, and
the exact `swift sft` command with its environment in a script.

ms-swift's standard format puts one `<image>` tag in the text per entry of "images", in order. Image paths are
relative to the export folder and the script runs from there, so the export can be moved. The script names the
template (ms-swift cannot always infer it from a local model folder) and sets `MAX_PIXELS` / `MIN_PIXELS` (and, for
Qwen3-VL, `IMAGE_MAX_TOKEN_NUM` / `IMAGE_MIN_TOKEN_NUM`) to the counter's bounds: every image is stored at a size
Qwen's resize keeps within them, so ms-swift counts every sample as its shard's `n_tokens`.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from .export_common import ConsumerSettings, open_build, write_conversations, write_text


def swift_env(s: ConsumerSettings) -> dict[str, str]:
    env = {"MAX_PIXELS": str(s.max_pixels), "MIN_PIXELS": str(s.min_pixels)}
    if s.model_type.startswith("qwen3"):  # ms-swift reads Qwen3-VL's bounds as token counts of factor^2 pixels
        env["IMAGE_MAX_TOKEN_NUM"] = str(s.max_pixels // s.factor**2)
        env["IMAGE_MIN_TOKEN_NUM"] = str(math.ceil(s.min_pixels / s.factor**2))
    return env


def swift_args(s: ConsumerSettings, data_file: str) -> list[str]:
    return ["swift", "sft", "--model", s.model, "--template", s.swift_template, "--dataset", data_file,
            "--max_length", str(s.max_length), "--packing", "true",
            "--train_type", "full", "--freeze_vit", "true", "--torch_dtype", "bfloat16", "--attn_impl", "flash_attn",
            "--learning_rate", "1e-5", "--lr_scheduler_type", "cosine", "--warmup_ratio", "0.1",
            "--weight_decay", "0.1", "--adam_beta2", "0.95", "--num_train_epochs", "1",
            "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "4",
            "--gradient_checkpointing", "true", "--output_dir", "output"]


def script_text(s: ConsumerSettings, data_file: str) -> str:
    env = swift_env(s)
    lines = ["#!/usr/bin/env bash",
             "# ms-swift training on this export, written by `mmprolong export --format swift`.",
             "# The environment and --template/--max_length make ms-swift count every sample as the shard did",
             "# (n_tokens); image paths in the JSONL are relative to this folder. Extra arguments are passed on.",
             "set -euo pipefail",
             'cd "$(dirname "$0")"']
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    args = [shlex.quote(a) for a in swift_args(s, data_file)]
    pairs = [" ".join(args[:2])] + [f"{args[i]} {args[i + 1]}" for i in range(2, len(args), 2)]
    lines.append(" \\\n    ".join(pairs) + ' \\\n    "$@"')
    return "\n".join(lines) + "\n"


def export_swift(build_dir: str | Path, to: str | Path, name: str = "mmprolong", model: str | None = None,
                 progress: bool = False) -> dict:
    """Write TO/<name>.jsonl, TO/images/ and TO/<name>_train.sh; returns counts and the command to run next."""
    from ..run.outdir import claim

    with claim(to, "export", "export swift"):   # one writer; never into a folder of another kind
        return _export_swift(build_dir, to, name, model, progress)


def _export_swift(build_dir, to, name, model, progress) -> dict:
    build = open_build(build_dir)
    settings = build.settings(model)
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    data, n, n_images, writer = write_conversations(build, to, f"{name}.jsonl", as_array=False, progress=progress)
    script = to / f"{name}_train.sh"
    write_text(script, script_text(settings, data.name), mode=0o755)
    write_text(to / f"{name}_swift.json", json.dumps({"env": swift_env(settings), "args": swift_args(settings, data.name),
                                                      "settings": settings.as_dict()}, indent=1))
    return {"samples": n, "images": n_images, "image_files": writer.written, "file": str(data),
            "script": str(script), "env": swift_env(settings), "settings": settings.as_dict(),
            "next": f"bash {script}"}
