"""`mmprolong train export CHECKPOINT --out DIR`: any intermediate checkpoint as the same Hugging Face folder the
run writes at its end.

A checkpoint (`OUT/checkpoints/step_N/`) holds the model in torch distributed-checkpoint form; the run's training
config (`OUT/config.json`) says how the model was built (source folder or preset, context extension). The model is
rebuilt the way the trainer builds it, in one process, its weights read from the checkpoint (the optimizer state is
not loaded), and written by `checkpoint.export_hf`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

from . import checkpoint as ckpt

log = logging.getLogger(__name__)


def find_config(checkpoint: Path) -> Path:
    """The run's config.json: OUT/config.json for OUT/checkpoints/step_N."""
    for parent in (checkpoint.parent.parent, checkpoint.parent, checkpoint):
        p = parent / "config.json"
        if p.is_file() and "model" in json.loads(p.read_text()):
            return p
    raise FileNotFoundError(f"{checkpoint}: no training config.json found next to its run folder; pass --config")


def export_checkpoint(checkpoint: str | Path, out: str | Path, config: str | Path | None = None,
                      dtype: str | None = None) -> Path:
    """Write the Hugging Face folder of `checkpoint` to `out`; `dtype` defaults to the run's training dtype."""
    from . import distributed as D
    from .config import load_config, parse_config
    from .loop import build

    checkpoint = Path(checkpoint)
    if not (checkpoint / "state").is_dir() or not (checkpoint / "meta.json").is_file():
        raise FileNotFoundError(f"{checkpoint}: not a training checkpoint (step_N folder with state/ and meta.json)")
    cfg_path = Path(config) if config else find_config(checkpoint)
    cfg = (parse_config(json.loads(cfg_path.read_text())) if cfg_path.suffix == ".json"
           else load_config(cfg_path))
    layout = D.setup(1, device="cpu")
    b = build(cfg, layout)
    state = {"model": get_model_state_dict(b.lm)}
    dcp.load(state, checkpoint_id=str(checkpoint / "state"))
    set_model_state_dict(b.lm, state["model"])
    step = json.loads((checkpoint / "meta.json").read_text()).get("step")
    log.info("exporting %s (step %s) to %s", checkpoint, step, out)
    ckpt.export_hf(Path(out), b.lm, b.hf, cfg.model.path, dtype=dtype or cfg.model.dtype)
    return Path(out)
