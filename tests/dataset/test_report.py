"""The data report: markdown with target vs achieved numbers and readable PNGs, from what is on disk."""

from __future__ import annotations

import json

from .docs import make_document, write_store
from PIL import Image

from mmprolong.dataset.build import build
from mmprolong.dataset.report import write_report
from mmprolong.recipe import parse_recipe


def test_report(tmp_path):
    docs = [make_document(f"doc{i}", 10 + 4 * i, size=(308, 396)) for i in range(4)]
    write_store(tmp_path / "store", docs)
    r = parse_recipe({"max_length": 3000, "lengths": {"mode": "histogram", "edges": [1024, 2048, 4096]},
                      "segment": {"min_pages": 3, "max_pages": 6}, "per_document": 2, "budget_tokens": 10**6})
    s = build(r, tmp_path / "store", tmp_path / "out", workers=1, progress=False)
    md = (tmp_path / "out" / "report" / "report.md").read_text()
    assert f"**{s.samples}**" in md and f"{s.tokens:,}" in md and "1,000,000 budget" in md
    assert "| extract-single | 0.40 |" in md and "| 1K-2K | 0.50 |" in md
    for png in ("lengths", "depth", "pages", "tasks", "rejections"):
        assert f"({png}.png)" in md
        with Image.open(tmp_path / "out" / "report" / f"{png}.png") as im:
            assert im.format == "PNG" and im.size[0] >= 500
    # written again from disk alone (e.g. after a resume): the same report
    write_report(tmp_path / "out")
    assert (tmp_path / "out" / "report" / "report.md").read_text() == md
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["summary"]["samples"] == s.samples
