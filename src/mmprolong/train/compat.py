"""What the trainer needs from the installed transformers, checked by feature rather than by version number.

The trainer hands precomputed image features to the model (`mm_encoder_outputs`, transformers >= 5.18) and packs
with `get_rope_index(mm_token_type_ids=...)`; activation offload needs `activation_checkpointing_enable`. A machine
with an older transformers (a GPU image with 5.17, say) is told which feature is missing and what to do, before a
model is built.
"""

from __future__ import annotations

import inspect


def trainer_support() -> dict:
    """{feature: bool} for this transformers, plus its version."""
    import transformers
    from transformers import PreTrainedModel
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as q25

    fwd = inspect.signature(q25.Qwen2_5_VLModel.forward).parameters
    rope = inspect.signature(q25.Qwen2_5_VLModel.get_rope_index).parameters
    return {"transformers": transformers.__version__,
            "mm_encoder_outputs": "mm_encoder_outputs" in fwd,
            "rope_index_mm_token_type_ids": "mm_token_type_ids" in rope,
            "activation_offload": hasattr(PreTrainedModel, "activation_checkpointing_enable")}


def require_trainer_support() -> None:
    """Raise one clear error naming the missing features (and the fix) when this transformers cannot train."""
    s = trainer_support()
    missing = [k for k in ("mm_encoder_outputs", "rope_index_mm_token_type_ids") if not s[k]]
    if missing:
        raise RuntimeError(f"transformers {s['transformers']} lacks {', '.join(missing)}, which the trainer needs: "
                           "install transformers>=5.18,<6 (offline: carry its wheel, bench/device_wheels.py)")
