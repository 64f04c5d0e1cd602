"""Export to LLaMA-Factory: a sharegpt-style JSON file, its dataset_info.json entry, and a ready training YAML.

Each record is `{"messages": [{"role": "user", "content": "Page 1:<image>...question"}, {"role": "assistant",
"content": answer}], "images": ["images/<doc>/<page>-<w>x<h>.jpg", ...]}`, one `<image>` per image in order. Image
paths are relative to the export folder, which LLaMA-Factory resolves against `media_dir` (default: `dataset_dir`);
the YAML sets `dataset_dir: .`, so it runs from the export folder wherever that folder is moved.

The YAML carries what makes LLaMA-Factory count each sample as the shard did: the family's template, `cutoff_len`
= the recipe's max_length (LLaMA-Factory's default 2048 would cut inside the images), and `image_max_pixels` /
`image_min_pixels` = the counter's pixel bounds (its default 768*768 would shrink every page). Every image lies
within those bounds at a size Qwen's resize keeps, so neither LLaMA-Factory's resize nor the processor's changes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .export_common import ConsumerSettings, open_build, write_conversations, write_text


def dataset_info_entry(file_name: str) -> dict:
    return {"file_name": file_name, "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}


def train_yaml(s: ConsumerSettings, name: str) -> dict:
    """A full-parameter SFT config for `llamafactory-cli train`, run from the export folder."""
    return {
        "model_name_or_path": s.model,
        "image_max_pixels": s.max_pixels,
        "image_min_pixels": s.min_pixels,
        "trust_remote_code": True,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "full",
        "freeze_vision_tower": True,
        "dataset": name,
        "dataset_dir": ".",
        "template": s.llamafactory_template,
        "cutoff_len": s.max_length,
        "packing": True,
        "neat_packing": True,
        "overwrite_cache": True,
        "preprocessing_num_workers": 16,
        "output_dir": f"saves/{name}",
        "logging_steps": 1,
        "save_steps": 100,
        "plot_loss": True,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "learning_rate": 1.0e-5,
        "num_train_epochs": 1.0,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "weight_decay": 0.1,
        "adam_beta2": 0.95,
        "bf16": True,
        "flash_attn": "fa2",
        "gradient_checkpointing": True,
        "ddp_timeout": 180000000,
    }


def yaml_text(s: ConsumerSettings, name: str) -> str:
    head = (f"# LLaMA-Factory training config written by `mmprolong export --format llamafactory`.\n"
            f"# Run from this folder:  llamafactory-cli train {name}_train.yaml\n"
            f"# template, cutoff_len and image_max/min_pixels make LLaMA-Factory count every sample as the shard\n"
            f"# did (n_tokens); change them and the lengths change. The optimizer values are the MMProLong recipe's.\n")
    return head + yaml.safe_dump(train_yaml(s, name), sort_keys=False)


def export_llamafactory(build_dir: str | Path, to: str | Path, name: str = "mmprolong", model: str | None = None,
                        progress: bool = False) -> dict:
    """Write TO/<name>.json, TO/images/, TO/<name>_train.yaml and add `name` to TO/dataset_info.json; returns
    counts and the command to run next."""
    from ..run.outdir import claim

    with claim(to, "export", "export llamafactory"):   # one writer; never into a folder of another kind
        return _export_llamafactory(build_dir, to, name, model, progress)


def _export_llamafactory(build_dir, to, name, model, progress) -> dict:
    build = open_build(build_dir)
    settings = build.settings(model)
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    data, n, n_images, writer = write_conversations(build, to, f"{name}.json", as_array=True, progress=progress)
    info_path = to / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info[name] = dataset_info_entry(data.name)
    write_text(info_path, json.dumps(info, indent=2))
    cfg = to / f"{name}_train.yaml"
    write_text(cfg, yaml_text(settings, name))
    return {"samples": n, "images": n_images, "image_files": writer.written, "file": str(data),
            "dataset_info": str(info_path), "config": str(cfg), "settings": settings.as_dict(),
            "next": f"cd {to} && llamafactory-cli train {cfg.name}"}
