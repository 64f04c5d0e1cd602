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


def test_report_shows_the_papers_statistics(tmp_path):
    import hashlib

    docs = [make_document(f"doc{i}", 6 + 2 * i, size=(308, 396)) for i in range(6)]
    write_store(tmp_path / "store", docs)
    (tmp_path / "store" / "manifest.json").write_text('{"settings": "x"}')
    r = parse_recipe({"max_length": 8192, "lengths": {"mode": "pool-native", "min_pages": 4, "max_pages": 40},
                      "segment": {"min_pages": 3, "max_pages": 6}, "per_document": 3, "budget_tokens": 10**6})
    s = build(r, tmp_path / "store", tmp_path / "out", workers=1, progress=False)
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["store"] == {"path": str((tmp_path / "store").resolve()), "documents": 6,
                          "manifest_sha256": hashlib.sha256(b'{"settings": "x"}').hexdigest()}
    md = (tmp_path / "out" / "report" / "report.md").read_text()
    assert s.pool_exhausted and "the pool ran out" in md
    for needle in ("pages per instance: mean / p50 / min-max", "n_tokens: min / p10 / p50 / p90 / max",
                   "instances >= 100K tokens", "image tokens per page", "KS distance to uniform",
                   "| paper (pool-native) |", "avg 85.3K, range 32.8K-126.8K", "achieved - recipe (points)",
                   "Finer buckets", "| 7K-8K |", "## Rejections per named check", "store: "):
        assert needle in md, needle


def test_rejections_per_named_check_and_depth_against_uniform():
    from mmprolong.dataset.report import depth_vs_uniform, rejection_checks

    c = rejection_checks(["verify: scope, answer_in_evidence", "verify: scope", "no-qa: nothing for pages 1-8",
                          "mix: reasoning would be 3 of 7"])
    assert c == {"verify: scope": 2, "verify: answer_in_evidence": 1, "no-qa": 1, "mix": 1}
    even = depth_vs_uniform([(k + 0.5) / 100 for k in range(100)])
    assert abs(even["mean"] - 0.5) < 1e-12 and even["ks"] <= 0.005 + 1e-12
    early = depth_vs_uniform([0.1] * 50)
    assert abs(early["ks"] - 0.9) < 1e-12
