"""Exports checked by the real consumers: LLaMA-Factory's and ms-swift's own loaders and templates on an export of
the demo build, every sample's input length and image-token count against the shard's `n_tokens` /
`n_image_tokens`, with the settings the export itself writes; and the exported model folder loaded by the lowest and
highest transformers version of the declared range (RoPE base 4e6, bf16).

The tools live in their own virtual environments (they pin their own transformers); this script runs with the
project's environment, builds and exports, then runs each tool's check as a child process of that tool's Python,
which must not import mmprolong. Setup (torch pinned so pip takes the on-disk CPU wheel):

    python -m venv /tmp/venv-lf && /tmp/venv-lf/bin/pip install torch==2.13.0 llamafactory
    python -m venv /tmp/venv-swift && /tmp/venv-swift/bin/pip install torch==2.13.0 ms-swift qwen-vl-utils
    python -m venv /tmp/venv-tf5.0 && /tmp/venv-tf5.0/bin/pip install torch==2.13.0 transformers==5.0.0

Writes bench/results/exports.md and prints it.
Usage: python bench/exports.py --lf-python /tmp/venv-lf/bin/python --swift-python /tmp/venv-swift/bin/python
       --tf-python /tmp/venv-tf5.0/bin/python [--tf-python ...] [--docs N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------------------------
# children: run under a tool's own Python; print one JSON line; never import mmprolong
# ---------------------------------------------------------------------------------------------------------------

def _stub_missing(*names: str) -> None:
    """The package index here has CUDA builds of torchvision/torchaudio only (uninstall them from the tools' venvs:
    they fail to load against the CPU torch); a tool that imports one at module level for audio or video, which
    these image-only samples never touch, gets an empty stand-in."""
    import importlib.machinery
    import importlib.util

    for name in names:
        if name in sys.modules or ("." not in name and importlib.util.find_spec(name) is not None):
            continue
        if True:
            m = types.ModuleType(name)
            m.__spec__ = importlib.machinery.ModuleSpec(name, None)
            m.__version__ = "0.0.0"
            sys.modules[name] = m


def _processor_without_torchvision() -> None:
    """transformers' AutoProcessor builds Qwen's video processor too, which needs torchvision; without it, the
    processor is built from the folder's own tokenizer and image processor (the classes and files the tools load),
    minus the video part that image samples never use."""
    import transformers
    from transformers import AutoTokenizer

    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    orig = transformers.AutoProcessor.from_pretrained

    def from_pretrained(path, *a, **kw):
        cfg = json.loads((Path(path) / "processor_config.json").read_text())
        base = getattr(transformers, cfg["processor_class"])
        attrs = [x for x in base.get_attributes() if x != "video_processor"]
        cls = type(base.__name__, (base,), {"get_attributes": classmethod(lambda c: list(attrs))})
        ip = transformers.Qwen2VLImageProcessorPil.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        tmpl = (Path(path) / "chat_template.jinja").read_text()
        return cls(image_processor=ip, tokenizer=tok, chat_template=tmpl)

    transformers.AutoProcessor.from_pretrained = from_pretrained
    transformers.AutoProcessor._orig_from_pretrained = orig


def child_lf(export_dir: str, model_dir: str) -> None:
    """LLaMA-Factory's own pipeline (get_dataset: its sharegpt converter, template, mm plugin, image processor)
    with the exported YAML's settings; packing off so that each sample stays one row (packing only concatenates)."""
    import yaml

    os.chdir(export_dir)
    _processor_without_torchvision()
    cfg = yaml.safe_load(Path("mmprolong_train.yaml").read_text())
    cfg.update(model_name_or_path=model_dir, packing=False, neat_packing=False, bf16=False, flash_attn="auto",
               output_dir=tempfile.mkdtemp(), preprocessing_num_workers=None, report_to="none",
               gradient_checkpointing=False)
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer
    import llamafactory

    model_args, data_args, training_args, finetuning_args, _ = get_train_args(cfg)
    tm = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
    ds = get_dataset(template, model_args, data_args, training_args, stage="sft", **tm)["train_dataset"]
    pad = tm["tokenizer"].convert_tokens_to_ids("<|image_pad|>")
    rows = [{"input_len": len(r["input_ids"]), "image_tokens": r["input_ids"].count(pad),
             "labels": sum(1 for x in r["labels"] if x != -100)} for r in ds]
    import transformers

    print(json.dumps({"tool": "LLaMA-Factory", "version": llamafactory.__version__,
                      "transformers": transformers.__version__, "settings": {k: cfg[k] for k in (
                          "template", "cutoff_len", "image_max_pixels", "image_min_pixels")}, "rows": rows}))


def child_swift(export_dir: str, model_dir: str) -> None:
    """ms-swift's own pipeline (its dataset loader and the named template's encode) with the environment and
    arguments of the exported script."""
    _processor_without_torchvision()
    from transformers.utils import is_torchvision_available

    if not is_torchvision_available():  # cached False first: transformers keeps its PIL image path
        _stub_missing("torchvision", "torchvision.io", "torchvision.transforms")
        sys.modules["torchvision"].io = sys.modules["torchvision.io"]
        sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
        sys.modules["torchvision.transforms"].InterpolationMode = types.SimpleNamespace(BICUBIC=3, BILINEAR=2)
        sys.modules["torchvision.transforms"].functional = types.ModuleType("torchvision.transforms.functional")
    spec = json.loads((Path(export_dir) / "mmprolong_swift.json").read_text())
    os.environ.update(spec["env"])
    os.chdir(export_dir)
    args = spec["args"]
    arg = {args[i]: args[i + 1] for i in range(2, len(args), 2)}
    import swift

    from swift.dataset import load_dataset   # ms-swift 4 layout
    from swift.model import get_processor
    from swift.template import get_template

    processor = get_processor(model_dir, model_type=arg["--template"])
    template = get_template(processor, max_length=int(arg["--max_length"]), template_type=arg["--template"])
    template.set_mode("train")
    ds, _ = load_dataset([arg["--dataset"]], split_dataset_ratio=0.0)
    tok = getattr(processor, "tokenizer", processor)
    pad = tok.convert_tokens_to_ids("<|image_pad|>")
    rows = []
    for r in ds:
        enc = template.encode(r)
        ids = list(enc["input_ids"])
        rows.append({"input_len": len(ids), "image_tokens": ids.count(pad),
                     "labels": sum(1 for x in enc["labels"] if x != -100)})
    import transformers

    print(json.dumps({"tool": "ms-swift", "version": swift.__version__, "transformers": transformers.__version__,
                      "settings": {"env": spec["env"], "template": arg["--template"],
                                   "max_length": int(arg["--max_length"])}, "rows": rows}))


def child_model(model_dir: str) -> None:
    """Load the exported folder with this transformers: config and weights, the RoPE base the model uses."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForImageTextToText

    cfg = AutoConfig.from_pretrained(model_dir)
    tc = cfg.get_text_config()
    rp = getattr(tc, "rope_parameters", None) or {}
    m = AutoModelForImageTextToText.from_pretrained(model_dir)
    lm = m.model.language_model if hasattr(m.model, "language_model") else m.model
    inv = lm.rotary_emb.inv_freq.double()
    d = inv.numel() * 2
    base_used = float((1.0 / inv[1]) ** (d / 2.0))       # inv_freq[i] = base^(-2i/d)
    # inv_freq is float32: raising it to d/2 multiplies its relative error (<= 2 eps) by d/2
    tol = (d / 2) * 2 * torch.finfo(torch.float32).eps
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                      "rope_theta_config": rp.get("rope_theta", getattr(tc, "rope_theta", None)),
                      "rope_base_used": base_used, "rope_tolerance": tol, "dtype": str(m.dtype),
                      "max_position_embeddings": tc.max_position_embeddings}))


# ---------------------------------------------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------------------------------------------

def _run_child(python: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               DISABLE_VERSION_CHECK="1")
    p = subprocess.run([python, str(Path(__file__).resolve()), "--child", *args], env=env, capture_output=True,
                       text=True, timeout=1800)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr or p.stdout)[-3000:]}
    return json.loads(lines[-1])


def _compare(res: dict, shards: list[dict]) -> dict:
    if "error" in res:
        return {"equal": 0, "image_equal": 0, "n": len(shards), "error": res["error"]}
    rows = res["rows"]
    if len(rows) != len(shards):
        return {"equal": 0, "image_equal": 0, "n": len(shards), "error": f"{len(rows)} rows for {len(shards)} samples"}
    eq = sum(r["input_len"] == s["n_tokens"] for r, s in zip(rows, shards))
    img = sum(r["image_tokens"] == s["n_image_tokens"] for r, s in zip(rows, shards))
    diffs = [r["input_len"] - s["n_tokens"] for r, s in zip(rows, shards)]
    return {"equal": eq, "image_equal": img, "n": len(shards), "max_abs_diff": max(map(abs, diffs))}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        kind, rest = argv[1], argv[2:]
        if kind == "lf":
            _stub_missing("torchaudio")     # imported at module level by LLaMA-Factory's mm_plugin
        {"lf": child_lf, "swift": child_swift, "model": child_model}[kind](*rest)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lf-python", help="python of a venv with llamafactory")
    ap.add_argument("--swift-python", help="python of a venv with ms-swift")
    ap.add_argument("--tf-python", action="append", default=[], help="python of a venv with one transformers "
                                                                      "version (repeatable); this one is always used")
    ap.add_argument("--docs", type=int, default=6, help="demo documents (default %(default)s, as `mmprolong demo`)")
    ap.add_argument("--work", help="work folder (default: a new temporary one); a finished build there is reused")
    ap.add_argument("--out", default=str(HERE / "results" / "exports.md"))
    args = ap.parse_args(argv)

    from device import cpu_name  # bench/device.py

    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.dataset.build import build
    from mmprolong.dataset.export_llamafactory import export_llamafactory
    from mmprolong.dataset.export_swift import export_swift
    from mmprolong.dataset.parts import read_table
    from mmprolong.demo.corpus import write_demo_corpus
    from mmprolong.train.checkpoint import export_hf
    from mmprolong.train.model import build_model, extend_context, preset_config

    tmp = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-exports-"))
    if not (tmp / "build" / "manifest.json").exists():
        write_demo_corpus(tmp / "pdfs", n_docs=args.docs, seed=0)
        ingest([str(tmp / "pdfs")], tmp / "store", IngestConfig(workers=2, progress=False))
        build("demo", tmp / "store", tmp / "build", workers=2, progress=False, report=False)
    shards = read_table(tmp / "build", "shards").to_pylist()
    export_llamafactory(tmp / "build", tmp / "lf")
    export_swift(tmp / "build", tmp / "swift")
    # a complete model folder (tiny random Qwen2.5-VL, context extended as the recipe does): tokenizer, processor,
    # chat template for the tools; config and weights for the transformers check
    config = preset_config("tiny-qwen2.5-vl")
    extend_context(config, 131072, 4e6)
    hf = build_model(config)
    export_hf(tmp / "model", hf, hf, None, dtype="bf16")

    tools = []
    if args.lf_python:
        tools.append(("LLaMA-Factory", _run_child(args.lf_python, "lf", str(tmp / "lf"), str(tmp / "model"))))
    if args.swift_python:
        tools.append(("ms-swift", _run_child(args.swift_python, "swift", str(tmp / "swift"), str(tmp / "model"))))
    models = [_run_child(py, "model", str(tmp / "model")) for py in [sys.executable, *args.tf_python]]

    lines = [f"# Exports read by the real tools ({datetime.date.today()}, {cpu_name()})", "",
             f"Demo build: {args.docs} documents, recipe `demo`, {len(shards)} samples, "
             f"{sum(s['n_tokens'] for s in shards):,} tokens ({sum(s['n_image_tokens'] for s in shards):,} image "
             "tokens). Each tool runs its own dataset loader and chat template on the export with the settings the "
             "export wrote (LLaMA-Factory: the YAML, packing off so each sample stays one row; ms-swift: the "
             "script's environment and arguments); lengths compared per sample with the shard's `n_tokens`.", "",
             "| tool | version | transformers | samples equal (length) | image tokens equal | max abs diff |",
             "|---|---|---|---|---|---|"]
    ok = True
    for name, res in tools:
        c = _compare(res, shards)
        ok &= c["equal"] == c["n"] and c["image_equal"] == c["n"]
        lines.append(f"| {name} | {res.get('version', '?')} | {res.get('transformers', '?')} | {c['equal']} of "
                     f"{c['n']} | {c['image_equal']} of {c['n']} | {c.get('max_abs_diff', c.get('error', '')[:0])} |")
        if "error" in c:
            lines += ["", f"{name} failed:", "", "```", c["error"].strip()[-1500:], "```", ""]
        else:
            lines.append(f"|  | settings: `{json.dumps(res['settings'])}` | | | | |")
    lines += ["", "Exported model folder (tiny random Qwen2.5-VL, RoPE base extended to 4e6, bf16), loaded with "
              "`AutoModelForImageTextToText`:", "",
              "| transformers | torch | rope_theta (config) | base the rotary embedding uses | dtype | max positions |",
              "|---|---|---|---|---|---|"]
    for m in models:
        if "error" in m:
            lines.append(f"| failed | | | | | `{m['error'].strip().splitlines()[-1][:200]}` |")
            ok = False
            continue
        ok &= abs(m["rope_base_used"] / 4e6 - 1) <= m["rope_tolerance"] and m["rope_theta_config"] == 4e6
        lines.append(f"| {m['transformers']} | {m['torch']} | {m['rope_theta_config']:g} | {m['rope_base_used']:.6g} "
                     f"| {m['dtype']} | {m['max_position_embeddings']} |")
    lines += ["", f"All equal: {'yes' if ok else 'NO'}.", ""]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
