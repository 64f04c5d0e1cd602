"""docs/serving.md's vLLM and `eval run` commands at 128K/256K/512K: every documented field is what
`eval.serving.plan` computes for the documented setup, and the `eval run` lines parse with the real CLI."""

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from mmprolong.cli.main import build_parser
from mmprolong.eval.instance import EvalInstance, write_instances
from mmprolong.eval.serving import kv_bytes_per_token, plan

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
# the documented setup: Qwen2.5-VL-7B trained to 128K, 15.5 GiB of weights, 80 GB GPUs, pages of ~1,000 tokens
CONFIG = {"model_type": "qwen2_5_vl", "text_config": {"hidden_size": 3584, "num_hidden_layers": 28,
                                                      "num_attention_heads": 28, "num_key_value_heads": 4,
                                                      "max_position_embeddings": 131072}}
SETUP = {131072: 1, 262144: 1, 524288: 2}


def vllm_parser():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    for f in ("--served-model-name", "--limit-mm-per-prompt", "--hf-overrides", "--mm-processor-kwargs"):
        p.add_argument(f)
    for f in ("--max-model-len", "--max-num-seqs", "--tensor-parallel-size"):
        p.add_argument(f, type=int)
    p.add_argument("--gpu-memory-utilization", type=float)
    p.add_argument("--enable-chunked-prefill", action="store_true")
    return p


def sections():
    text = DOC.read_text()
    out = {}
    for m in re.finditer(r"### (\d+)K\n.*?```bash\n(.*?)```", text, re.S):
        out[int(m.group(1)) * 1024] = [ln for ln in m.group(2).splitlines() if ln.strip()]
    return out


def reference_set(tmp_path, L):
    ctx = [{"doc_id": "d", "page": i, "width": 1000, "height": 1000} for i in range(L // 1000)]
    write_instances(tmp_path / str(L), [EvalInstance("i", "x", "q", "a", "String", L, L, 0.5, ctx)],
                    {"max_pixels": 1003520})
    return tmp_path / str(L)


def test_kv_bytes_of_qwen25_vl_7b():
    assert kv_bytes_per_token(CONFIG) == 28 * 4 * 128 * 2 * 2 == 57344


@pytest.mark.parametrize("L", sorted(SETUP))
def test_documented_commands_match_the_plan(L, tmp_path):
    serve, run = sections()[L]
    words = shlex.split(serve)
    env = dict(w.split("=", 1) for w in words[: words.index("vllm")])
    a = vllm_parser().parse_args(words[words.index("vllm") + 2:])
    p = plan(reference_set(tmp_path, L), config=CONFIG, gpus=SETUP[L], weights_gib=15.5)
    assert a.max_model_len == p.max_model_len >= L + 256
    assert json.loads(a.limit_mm_per_prompt) == {"image": p.images_per_prompt}
    assert json.loads(a.mm_processor_kwargs) == {"max_pixels": 1003520}
    assert a.max_num_seqs == p.max_num_seqs and a.tensor_parallel_size == SETUP[L]
    assert a.hf_overrides is None                                  # no RoPE change at inference (the paper)
    assert env == {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"} == p.env  # longer than the trained 128K positions
    # KV cache of max_num_seqs sequences at max_model_len fits beside the weights; one more would not
    budget = (SETUP[L] * 80 * 0.9 - 15.5 - 4 * SETUP[L]) * 2 ** 30
    assert a.max_num_seqs * 57344 * a.max_model_len <= budget < (a.max_num_seqs + 1) * 57344 * a.max_model_len
    args = build_parser().parse_args(shlex.split(run)[1:])
    assert args.backend == "openai" and args.served_model == a.served_model_name
    assert args.concurrency == p.client_concurrency > a.max_num_seqs and args.max_new_tokens == 256


def test_serve_config_cli_prints_the_commands(tmp_path, capsys):
    from mmprolong.cli.main import main
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(CONFIG))
    s = reference_set(tmp_path, 262144)
    assert main(["eval", "serve-config", str(s), "--model-path", str(model)]) == 0
    out = capsys.readouterr().out
    assert "--max-model-len 263168" in out and "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in out
    assert '{"image": 262}' in out and "--concurrency" in out


@pytest.mark.parametrize("make", ["missing", "empty folder", "bad json"])
def test_serve_config_without_a_model_config_fails_naming_the_path(make, tmp_path, capsys):
    """No settings are printed without the model's config: its positions decide VLLM_ALLOW_LONG_MAX_MODEL_LEN."""
    from mmprolong.cli.main import main
    model = tmp_path / "no" / "such" / "model"
    if make != "missing":
        model.mkdir(parents=True)
    if make == "bad json":
        (model / "config.json").write_text("{not json")
    s = reference_set(tmp_path, 131072)
    assert main(["eval", "serve-config", str(s), "--model-path", str(model)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "vllm" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(model) in lines[0] and lines[0].startswith("mmprolong eval serve-config: error:")


def test_max_model_len_is_not_rounded_past_the_models_positions(tmp_path):
    """Prompt + answer within max_position_embeddings: rounding up to 1K stops at it, so no long-length override is
    needed; beyond it (the 256K/512K evaluation of a 128K model) the override is set."""
    cfg = {"text_config": {**CONFIG["text_config"], "max_position_embeddings": 130_500}}
    s = reference_set(tmp_path, 130_000)                 # 130,000 + 256 -> 131,072 when rounded: past 130,500
    p = plan(s, config=cfg, weights_gib=15.5)
    assert p.max_model_len == 130_500 and p.env == {}
    p = plan(s, config=CONFIG, weights_gib=15.5)         # 131,072 positions: rounded up to them, no override
    assert p.max_model_len == 131_072 and p.env == {}
    long = reference_set(tmp_path, 262144)
    assert plan(long, config=cfg, weights_gib=15.5).env == {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"}
    no_mpe = {"text_config": {k: v for k, v in CONFIG["text_config"].items() if k != "max_position_embeddings"}}
    assert plan(s, config=no_mpe, weights_gib=15.5).env == {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"}


def test_gpu_memory_flag_has_one_name_and_keeps_the_old_one(tmp_path):
    p = build_parser()
    assert p.parse_args(["eval", "serve-config", "s", "--model-path", "m", "--gpu-mem", "96"]).gpu_mem == 96
    assert p.parse_args(["eval", "serve-config", "s", "--model-path", "m", "--gpu-mem-gib", "96"]).gpu_mem == 96
    assert p.parse_args(["eval", "serve-config", "s", "--model-path", "m"]).gpu_mem == 80
    assert p.parse_args(["plan", "--gpu-mem", "96"]).gpu_mem == 96
