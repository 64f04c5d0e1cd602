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


def export_hf(out: Path, model, hf_model, source_folder: str | None = None) -> Path | None:
    """A Hugging Face folder (config with the extended RoPE, safetensors weights) that transformers loads as is."""
    out = Path(out)
    sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if _rank() == 0:
        sd = {k.removeprefix("hf."): v for k, v in sd.items()}
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
