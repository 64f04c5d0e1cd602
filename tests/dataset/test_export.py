"""Exports against the tools' documented dataset formats (LLaMA-Factory sharegpt + dataset_info; ms-swift JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from .docs import make_document, write_store
from PIL import Image

from mmprolong import tokens
from mmprolong.cli.main import main
from mmprolong.dataset.build import build
from mmprolong.dataset.export_llamafactory import export_llamafactory
from mmprolong.dataset.export_swift import export_swift
from mmprolong.dataset.parts import read_table
from mmprolong.recipe import parse_recipe

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


def test_swift(built, tmp_path):
    res = export_swift(built, tmp_path)
    lines = (tmp_path / "mmprolong.jsonl").read_text().splitlines()
    assert res["samples"] == len(lines) > 0
    for line in lines:
        rec = json.loads(line)
        assert set(rec) == {"messages", "images"}
        check_record(rec, None)
        assert all(Path(p).is_absolute() for p in rec["images"])


def test_images_are_written_once_and_budgeted_ones_resized_to_their_grid(built, tmp_path):
    export_swift(built, tmp_path)
    counter = tokens.load("qwen2.5-vl")
    files = {}
    for s in read_table(built, "shards").to_pylist():
        for part in json.loads(s["messages"])[0]["content"]:
            if part["type"] != "image":
                continue
            mp = part.get("max_pixels")
            name = f"{part['page']:05d}.jpg" if mp is None else f"{part['page']:05d}-mp{mp}.jpg"
            p = tmp_path / "images" / s["doc_id"] / name
            with Image.open(p) as im:
                size = im.size
            if mp is not None:
                g = counter.image_grid(part["width"], part["height"], mp)
                assert size == (g.width, g.height)
                # the tool's own resize of the exported image keeps the counted grid
                assert counter.image_grid(*size).tokens == g.tokens
            else:
                assert size == (part["width"], part["height"])
            files[p] = True
    assert any("-mp" in p.name for p in files)                    # the visual budget was used
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == len(files)


def test_cli_export(built, tmp_path, capsys):
    assert main(["export", str(built), "--format", "llamafactory", "--to", str(tmp_path / "lf")]) == 0
    assert "exported" in capsys.readouterr().out and (tmp_path / "lf" / "dataset_info.json").exists()
    assert main(["export", str(tmp_path), "--format", "swift", "--to", str(tmp_path / "sw")]) == 2
    assert "not a finished" in capsys.readouterr().err


def test_literal_image_tags_in_text_are_not_placeholders():
    from mmprolong.dataset.export_common import _text

    t = _text({"type": "text", "text": "the <image> tag"})
    assert "<image>" not in t and t.replace("\u200b", "") == "the <image> tag"
