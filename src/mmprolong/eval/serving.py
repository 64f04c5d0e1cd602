"""vLLM settings to serve a model for `eval run --backend openai` on an eval set (docs/serving.md).

From the set: the longest prompt (n_tokens, exact) and the most images in one prompt; from the model folder (when
given): max_position_embeddings and the KV-cache bytes per token (layers x KV heads x head dim x K and V x 2 bytes).
Out come the `vllm serve` arguments that fit the set — `--max-model-len` (longest prompt + new tokens, rounded up to
1K, but not past `max_position_embeddings` when the prompt and answer fit within it), `--limit-mm-per-prompt
'{"image": N}'`, `VLLM_ALLOW_LONG_MAX_MODEL_LEN=1` when the set is longer than the
model's `max_position_embeddings` (the paper's 256K/512K: no inference-time change to the model; an exported
checkpoint already carries its mRoPE base, and with default RoPE that limit is only vLLM's length check),
`--hf-overrides '{"rope_theta": ...}'` only when asked (an ablation: a base model served with a raised base),
`--mm-processor-kwargs` with the set's pixel budget — and the concurrency that
keeps the server busy: as many sequences as the KV cache holds at the longest prompt (`--max-num-seqs`), and a
client `--concurrency` one and a half times that, so a queue is always waiting.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .instance import read_instances, read_manifest


@dataclass
class ServePlan:
    max_model_len: int
    images_per_prompt: int
    max_num_seqs: int
    client_concurrency: int
    hf_overrides: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    mm_processor_kwargs: dict = field(default_factory=dict)
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    kv_bytes_per_token: int | None = None

    def args(self, model: str, served_name: str = "mmprolong") -> list[str]:
        a = ["vllm", "serve", model, "--served-model-name", served_name,
             "--max-model-len", str(self.max_model_len),
             "--limit-mm-per-prompt", json.dumps({"image": self.images_per_prompt}),
             "--max-num-seqs", str(self.max_num_seqs),
             "--tensor-parallel-size", str(self.tensor_parallel_size),
             "--gpu-memory-utilization", str(self.gpu_memory_utilization),
             "--enable-chunked-prefill"]
        if self.hf_overrides:
            a += ["--hf-overrides", json.dumps(self.hf_overrides)]
        if self.mm_processor_kwargs:
            a += ["--mm-processor-kwargs", json.dumps(self.mm_processor_kwargs)]
        return a

    def command(self, model: str, served_name: str = "mmprolong") -> str:
        env = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        return " ".join(env + [shlex.quote(x) for x in self.args(model, served_name)])


def _text_config(cfg: dict) -> dict:
    return cfg.get("text_config") or cfg


def read_model_config(model_dir: str | Path) -> dict:
    """The model folder's config.json; FileNotFoundError naming the path when there is none (a typo, a hub id not
    downloaded): the settings depend on it, so none are printed without it."""
    path = Path(model_dir) / "config.json"
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"{model_dir}: no such model folder (--model-path: a local Hugging Face model folder "
                                f"with its config.json)")
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json in it (not a Hugging Face model folder)")
    try:
        config = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a model config (a JSON object)")
    return config


def kv_bytes_per_token(config: dict, dtype_bytes: int = 2) -> int:
    t = _text_config(config)
    heads = int(t["num_attention_heads"])
    head_dim = int(t.get("head_dim") or int(t["hidden_size"]) // heads)
    return int(t["num_hidden_layers"]) * int(t.get("num_key_value_heads", heads)) * head_dim * 2 * dtype_bytes


def plan(set_dir: str | Path, model_dir: str | Path | None = None, max_new_tokens: int = 256, gpus: int = 1,
         gpu_mem_gib: float = 80.0, gpu_memory_utilization: float = 0.9, weights_gib: float | None = None,
         config: dict | None = None, rope_theta: float | None = None) -> ServePlan:
    """vLLM settings for `set_dir` (see the module docstring). `config`: the model's config.json as a dict (read
    from `model_dir` when not given); weights from the folder's *.safetensors sizes unless `weights_gib`."""
    if config is None and model_dir is not None:
        config = read_model_config(model_dir)
    lengths, images = [], []
    for inst in read_instances(set_dir):
        lengths.append(inst.n_tokens)
        images.append(sum(1 for c in inst.context if "width" in c))
    if not lengths:
        raise ValueError(f"{set_dir}: the eval set has no instances")
    need = max(lengths) + max_new_tokens
    max_len = int(math.ceil(need / 1024) * 1024)
    man = read_manifest(set_dir)
    overrides: dict = {"rope_theta": float(rope_theta)} if rope_theta else {}
    env: dict = {}
    kv = None
    if config:
        t = _text_config(config)
        mpe = t.get("max_position_embeddings") or config.get("max_position_embeddings")
        if mpe is not None and need <= int(mpe):
            max_len = min(max_len, int(mpe))   # the rounding alone never asks for positions beyond the model's
        if mpe is None or max_len > int(mpe):  # unknown, or longer than trained: vLLM's length check must allow it
            env["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"
        kv = kv_bytes_per_token(config)
    if weights_gib is None and model_dir is not None:
        files = list(Path(model_dir).glob("*.safetensors"))
        weights_gib = sum(f.stat().st_size for f in files) / 2 ** 30 if files else None
    seqs = 1
    if kv:
        budget = gpus * gpu_mem_gib * gpu_memory_utilization - (weights_gib or 0.0) - 4.0 * gpus  # activations
        seqs = max(1, int(budget * 2 ** 30 // (kv * max_len)))
    mm = {"max_pixels": int(man["max_pixels"])} if man.get("max_pixels") else {}
    return ServePlan(max_model_len=max_len, images_per_prompt=max(images), max_num_seqs=seqs,
                     client_concurrency=max(1, math.ceil(1.5 * seqs)), hf_overrides=overrides, env=env,
                     mm_processor_kwargs=mm, tensor_parallel_size=gpus,
                     gpu_memory_utilization=gpu_memory_utilization, kv_bytes_per_token=kv)
