"""Exports against the tools' documented dataset formats (LLaMA-Factory sharegpt + dataset_info; ms-swift JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import subprocess

import pytest
import yaml
from .docs import make_document, write_store
from PIL import Image

from mmprolong import tokens
from mmprolong.cli.main import main
from mmprolong.dataset.build import build
from mmprolong.dataset.export_llamafactory import export_llamafactory
from mmprolong.dataset.export_swift import export_swift
from mmprolong.dataset.parts import read_table
from mmprolong.recipe import parse_recipe
from mmprolong.tokens.counter import smart_resize

RECIPE = {"max_length": 3000, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
          "segment": {"min_pages": 3, "max_pages": 5}, "per_document": 2, "budget_tokens": 10**7,
          "visual_budget": True, "min_page_pixels": 50_176}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("exp")
    docs = [make_document(f"doc{i}", n, size=(612, 792)) for i, n in enumerate((4, 9, 14))]
    write_store(root / "store", docs)
    build(parse_recipe(RECIPE), root / "store", root / "out", workers=1, progress=False, report=False)
    return root / "out"


def check_record(rec: dict, base: Path | None):
    msgs = rec["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert all(isinstance(m["content"], str) for m in msgs)
    assert msgs[0]["content"].count("<image>") == len(rec["images"]) > 0
    assert "<image>" not in msgs[1]["content"]
    for img in rec["images"]:
        p = Path(img) if base is None else base / img
        assert p.is_file() and p.read_bytes()[:2] == b"\xff\xd8"


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def test_llamafactory(built, tmp_path):
    res = export_llamafactory(built, tmp_path, name="mmp")
    data = json.loads((tmp_path / "mmp.json").read_text())
    samples = read_table(built, "shards").to_pylist()
    assert res["samples"] == len(data) == len(samples) > 0
    for rec, s in zip(data, samples):
        check_record(rec, tmp_path)
        assert all(not Path(p).is_absolute() for p in rec["images"])   # relative to dataset_dir (media_dir)
        assert rec["messages"][1]["content"] == s["target"]
        assert rec["messages"][0]["content"].startswith(f"Page {s['pages'][0] + 1}:<image>")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["mmp"] == {"file_name": "mmp.json", "formatting": "sharegpt",
                           "columns": {"messages": "messages", "images": "images"},
                           "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                    "assistant_tag": "assistant"}}
    export_llamafactory(built, tmp_path, name="other")          # entries accumulate in one dataset_info.json
    assert set(json.loads((tmp_path / "dataset_info.json").read_text())) == {"mmp", "other"}


def test_llamafactory_yaml_carries_the_counting_settings(built, tmp_path):
    res = export_llamafactory(built, tmp_path, name="mmp", model="/models/qwen")
    cfg = yaml.safe_load((tmp_path / "mmp_train.yaml").read_text())
    counter = tokens.load("qwen2.5-vl")
    assert cfg["template"] == "qwen2_vl" and cfg["model_name_or_path"] == "/models/qwen"
    assert cfg["cutoff_len"] == RECIPE["max_length"]
    assert (cfg["image_max_pixels"], cfg["image_min_pixels"]) == (counter.max_pixels, counter.min_pixels)
    assert cfg["dataset"] == "mmp" and cfg["dataset_dir"] == "." and cfg["packing"] and cfg["neat_packing"]
    assert cfg["stage"] == "sft" and cfg["bf16"] is True
    assert res["next"].endswith("llamafactory-cli train mmp_train.yaml")
    for f in ("mmp.json", "dataset_info.json", "mmp_train.yaml"):
        assert _mode(tmp_path / f) == 0o644
    assert all(_mode(p) == 0o644 for p in (tmp_path / "images").rglob("*.jpg"))


def test_swift_relative_paths_and_command(built, tmp_path):
    res = export_swift(built, tmp_path / "a")
    lines = (tmp_path / "a" / "mmprolong.jsonl").read_text().splitlines()
    assert res["samples"] == len(lines) > 0
    (tmp_path / "a").rename(tmp_path / "moved")                  # the export is movable
    for line in lines:
        rec = json.loads(line)
        assert set(rec) == {"messages", "images"}
        assert all(not Path(p).is_absolute() for p in rec["images"])
        check_record(rec, tmp_path / "moved")
    script = (tmp_path / "moved" / "mmprolong_train.sh").read_text()
    counter = tokens.load("qwen2.5-vl")
    assert f"export MAX_PIXELS={counter.max_pixels}" in script and f"export MIN_PIXELS={counter.min_pixels}" in script
    assert "--template qwen2_5_vl" in script and f"--max_length {RECIPE['max_length']}" in script
    assert "--dataset mmprolong.jsonl" in script and 'cd "$(dirname "$0")"' in script
    assert _mode(tmp_path / "moved" / "mmprolong_train.sh") == 0o755
    assert subprocess.run(["bash", "-n", str(tmp_path / "moved" / "mmprolong_train.sh")]).returncode == 0
    spec = json.loads((tmp_path / "moved" / "mmprolong_swift.json").read_text())
    assert spec["env"] == {"MAX_PIXELS": str(counter.max_pixels), "MIN_PIXELS": str(counter.min_pixels)}


def _exported(tmp_path, built):
    """(record, shard row) pairs of a swift export."""
    export_swift(built, tmp_path)
    recs = [json.loads(x) for x in (tmp_path / "mmprolong.jsonl").read_text().splitlines()]
    return list(zip(recs, read_table(built, "shards").to_pylist()))


def test_every_image_is_stored_at_its_counted_grid(built, tmp_path):
    """Any consumer's own resize is the identity: the counter's and transformers' smart_resize and
    LLaMA-Factory's pre-resize (area outside [image_min_pixels, image_max_pixels] only) keep each image."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf_smart_resize

    counter = tokens.load("qwen2.5-vl")
    used_budget = False
    for rec, s in _exported(tmp_path, built):
        parts = [p for p in json.loads(s["messages"])[0]["content"] if p["type"] == "image"]
        total = 0
        for rel, part in zip(rec["images"], parts):
            with Image.open(tmp_path / rel) as im:
                w, h = im.size
            g = counter.image_grid(part["width"], part["height"], part.get("max_pixels"))
            assert (w, h) == (g.width, g.height)
            assert smart_resize(h, w, 28, counter.min_pixels, counter.max_pixels) == (h, w)
            assert hf_smart_resize(h, w, 28, counter.min_pixels, counter.max_pixels) == (h, w)
            assert counter.min_pixels <= w * h <= counter.max_pixels      # LLaMA-Factory leaves it as it is
            total += counter.image_grid(w, h).tokens
            used_budget |= part.get("max_pixels") is not None
        assert total == s["n_image_tokens"]
    assert used_budget                                              # the visual budget lowered some samples
    names = {p for rec, _ in _exported(tmp_path, built) for p in rec["images"]}
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == len(names)   # each (page, grid) written once


def test_transformers_processor_counts_the_shard_n_tokens(built, tmp_path):
    from mmprolong.tokens.hf_reference import build_processor

    proc = build_processor("qwen2.5-vl")    # the released processor's own bounds, not the recipe's
    pad = proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    n = 0
    for rec, s in _exported(tmp_path, built):
        user, answer = rec["messages"][0]["content"], rec["messages"][1]["content"]
        chunks = user.split("<image>")
        content = [{"type": "text", "text": chunks[0]}]
        for c in chunks[1:]:
            content += [{"type": "image"}, {"type": "text", "text": c}]
        content = [p for p in content if p["type"] == "image" or p["text"]]
        msgs = [{"role": "user", "content": content}, {"role": "assistant", "content": [{"type": "text",
                                                                                          "text": answer}]}]
        text = proc.apply_chat_template(msgs, tokenize=False)
        images = [Image.open(tmp_path / p).convert("RGB") for p in rec["images"]]
        ids = proc(text=[text], images=images, return_tensors="np")["input_ids"][0].tolist()
        assert len(ids) == s["n_tokens"] and ids.count(pad) == s["n_image_tokens"]
        n += 1
    assert n > 0


def test_cli_export(built, tmp_path, capsys):
    assert main(["export", str(built), "--format", "llamafactory", "--to", str(tmp_path / "lf")]) == 0
    out = capsys.readouterr().out
    assert "exported" in out and (tmp_path / "lf" / "dataset_info.json").exists()
    assert "next: cd " in out and "llamafactory-cli train mmprolong_train.yaml" in out
    assert main(["export", str(built), "--format", "swift", "--to", str(tmp_path / "sw")]) == 0
    assert "next: bash " in capsys.readouterr().out
    assert main(["export", str(tmp_path), "--format", "swift", "--to", str(tmp_path / "sw")]) == 2
    assert "not a finished" in capsys.readouterr().err


def test_hf_dataset_loads_with_typed_features_and_decoded_images(built, tmp_path):
    datasets = pytest.importorskip("datasets")
    assert main(["export", str(built), "--format", "hf", "--to", str(tmp_path / "hf"), "--no-progress"]) == 0
    ds = datasets.load_dataset(str(tmp_path / "hf"), split="train", cache_dir=str(tmp_path / "hf-cache"))  # no stale cache
    samples = read_table(built, "shards").to_pylist()
    assert len(ds) == len(samples)
    assert isinstance(ds.features["images"], datasets.List) and isinstance(ds.features["images"].feature,
                                                                            datasets.Image)
    counter = tokens.load("qwen2.5-vl")
    for row, s in zip(ds, samples):
        assert row["sample_id"] == s["sample_id"] and row["n_tokens"] == s["n_tokens"]
        user, assistant = row["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        img_parts = [p for p in user["content"] if p["type"] == "image"]
        assert len(img_parts) == len(row["images"]) > 0
        assert [p["page"] for p in img_parts] == list(s["pages"])
        assert assistant["content"][0]["text"] == s["target"]
        assert all(isinstance(im, Image.Image) for im in row["images"])
        assert sum(counter.image_grid(*im.size).tokens for im in row["images"]) == s["n_image_tokens"]
        assert all(counter.image_grid(*im.size).width == im.width for im in row["images"])
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "hf upload" in card and "data/train-*.parquet" in card


def test_literal_image_tags_in_text_are_not_placeholders():
    from mmprolong.dataset.export_common import _text

    t = _text({"type": "text", "text": "the <image> tag"})
    assert "<image>" not in t and t.replace("\u200b", "") == "the <image> tag"
