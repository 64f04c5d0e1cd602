"""Shards are what the trainer reads: its encoder (the HF image processor for pixels and grids) gives every sample
exactly the stored n_tokens, including samples whose pages were shrunk by the per-sample visual budget."""

from __future__ import annotations

import json

import pytest

from mmprolong.dataset.build import build
from mmprolong.dataset.parts import read_table
from mmprolong.recipe import parse_recipe

from .docs import make_document, write_store


def test_trainer_encodes_shards_at_their_exact_length(tmp_path):
    pytest.importorskip("transformers")
    from mmprolong.train.encode import encode_row, image_processor_for

    docs = [make_document(f"doc{i}", n, size=(612, 792)) for i, n in enumerate((6, 12))]
    write_store(tmp_path / "store", docs)
    r = parse_recipe({"max_length": 3000, "lengths": {"mode": "pool-native", "min_pages": 1, "max_pages": 100},
                      "segment": {"min_pages": 3, "max_pages": 5}, "per_document": 2, "budget_tokens": 10**7,
                      "visual_budget": True, "min_page_pixels": 50_176})
    build(r, tmp_path / "store", tmp_path / "out", workers=1, progress=False, report=False)
    rows = read_table(tmp_path / "out", "shards").to_pylist()
    assert any("max_pixels" in p for row in rows for p in json.loads(row["messages"])[0]["content"])
    counter = r.counter()
    processor = image_processor_for(counter)
    for row in rows:
        enc = encode_row(counter, processor, row)   # raises if the trainer's count disagrees with n_tokens
        assert len(enc.input_ids) == row["n_tokens"]
        assert int(enc.image_grid_thw.prod(-1).sum()) // 4 == row["n_image_tokens"]
