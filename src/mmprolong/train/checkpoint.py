"""Checkpoints with exact resume, and the final Hugging Face export.

A checkpoint is a folder `step_00000123/`: model and optimizer through torch.distributed.checkpoint (sharded,
each rank writes its own part; works unsharded in one process too), the scheduler, every rank's RNG states, and
`meta.json` (step, data position). It is written under a temporary name and renamed when complete, so a run killed
while saving resumes from the previous one.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)

PREFIX = "step_"


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def rng_state() -> dict:
    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def latest(root: Path) -> Path | None:
    done = sorted(p for p in Path(root).glob(f"{PREFIX}*") if p.is_dir() and (p / "meta.json").exists())
    return done[-1] if done else None


def save(root: Path, step: int, model, optimizer, scheduler, meta: dict, keep: int = 2) -> Path:
    root = Path(root)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp_{PREFIX}{step:08d}"
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    msd, osd = get_state_dict(model, optimizer)
    dcp.save({"model": msd, "optim": osd}, checkpoint_id=str(tmp / "state"))
    torch.save(rng_state(), tmp / f"rng_{_rank()}.pt")
    _barrier()
    if _rank() == 0:
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=1))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        for old in sorted(p for p in root.glob(f"{PREFIX}*") if p.is_dir())[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def load(path: Path, model, optimizer, scheduler) -> dict:
    """Restore everything saved by `save`; returns its meta (step, position, ...)."""
    path = Path(path)
    msd, osd = get_state_dict(model, optimizer)
    state = {"model": msd, "optim": osd}
    dcp.load(state, checkpoint_id=str(path / "state"))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    rng = path / f"rng_{_rank()}.pt"
    if not rng.exists():
        raise ValueError(f"{path} was written by fewer processes (no {rng.name}); resume with the same world size")
    set_rng_state(torch.load(rng, weights_only=False))
    return json.loads((path / "meta.json").read_text())


DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
DTYPE_NAMES = {"bf16": "bfloat16", "fp32": "float32"}


def legacy_rope_fields(cfg: dict) -> dict:
    """`cfg` (one config.json level) with the RoPE settings written both ways: transformers 5's
    `rope_parameters` and the `rope_theta` / `rope_scaling` fields that transformers 4.x and vLLM read. Without the
    legacy fields transformers 4.57 loads an extended model silently with its class default base (1e6)."""
    rp = cfg.get("rope_parameters")
    if not isinstance(rp, dict) or "rope_theta" not in rp:
        return cfg
    out = dict(cfg)
    out["rope_theta"] = rp["rope_theta"]
    out["rope_scaling"] = {"rope_type": "default", **{k: v for k, v in rp.items() if k != "rope_theta"}}
    return out


def compat_config(cfg: dict, dtype: str) -> dict:
    """config.json as every transformers version in the declared range and vLLM read it: RoPE in both forms in
    text_config (vLLM reads the text config), and the weights' dtype under both of its names. The top level gets no
    RoPE copy: transformers 5 would standardize it there and fail for YaRN."""
    cfg = dict(cfg)
    name = DTYPE_NAMES[dtype]
    text = cfg.get("text_config")
    if isinstance(text, dict):
        text = legacy_rope_fields(text)
        text["dtype"] = text["torch_dtype"] = name
        cfg["text_config"] = text
    else:
        cfg = legacy_rope_fields(cfg)
    if isinstance(cfg.get("vision_config"), dict):
        cfg["vision_config"] = {**cfg["vision_config"], "dtype": name, "torch_dtype": name}
    cfg["dtype"] = cfg["torch_dtype"] = name
    return cfg


def finalize_folder(out: Path, dtype: str) -> None:
    """Rewrite config.json for every reader (`compat_config`) and make every file world-readable (0644; the
    safetensors writer leaves 0600), folders 0755."""
    out = Path(out)
    path = out / "config.json"
    path.write_text(json.dumps(compat_config(json.loads(path.read_text()), dtype), indent=2, sort_keys=True) + "\n")
    for p in [out, *out.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def export_hf(out: Path, model, hf_model, source_folder: str | None = None, dtype: str = "bf16") -> Path | None:
    """A Hugging Face folder (config with the extended RoPE in both forms, safetensors weights in `dtype`) that
    transformers and vLLM load as is."""
    if dtype not in DTYPES:
        raise ValueError(f"export dtype {dtype!r}: one of {sorted(DTYPES)}")
    out = Path(out)
    sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if _rank() == 0:
        sd = {k.removeprefix("hf."): (v.to(DTYPES[dtype]) if v.is_floating_point() else v) for k, v in sd.items()}
        tc = hf_model.config.get_text_config()
        attn = tc._attn_implementation
        hf_model.save_pretrained(out, state_dict=sd)
        tc._attn_implementation = attn
        if source_folder:
            for f in Path(source_folder).iterdir():
                if f.is_file() and not f.name.endswith((".safetensors", ".bin", ".json.index")) and \
                        f.name not in ("config.json", "generation_config.json", "model.safetensors.index.json"):
                    shutil.copy2(f, out / f.name)
        else:  # random weights from a preset: write the family's processor so the folder is a complete model
            write_processor_files(out, hf_model.config.model_type)
        finalize_folder(out, dtype)
    _barrier()
    return out if _rank() == 0 else None


def write_processor_files(out: Path, model_type: str) -> None:
    """Tokenizer, image processor and chat template of the model family (built offline from the bundled
    vocabulary), so that transformers' AutoProcessor, vLLM and `mmprolong eval --backend hf` load the export."""
    from ..tokens.hf_reference import build_processor

    family = {"qwen2_5_vl": "qwen2.5-vl", "qwen2_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl"}.get(model_type)
    if family is None:
        raise ValueError(f"model_type {model_type!r}: no processor preset to export")
    processor = build_processor(family)
    processor.save_pretrained(out)
    processor.image_processor.save_pretrained(out)  # preprocessor_config.json, as released model folders have
