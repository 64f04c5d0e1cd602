"""The data report links to the view and embeds sample items with evidence-page thumbnails written beside it."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
from PIL import Image

from mmprolong.view.samples import THUMB_WIDTH


def test_report_embeds_sample_items_with_thumbnails(demo_build):
    rep = demo_build / "report"
    text = (rep / "report.md").read_text()
    section = text.split("## Sample items", 1)[1]
    assert f"mmprolong view {demo_build}" in section and f"mmprolong grades {demo_build}" in section
    qa = pq.read_table(demo_build / "qa").to_pylist()
    thumbs = re.findall(r"!\[page (\d+)\]\((sample-\d+\.png)\) \| ([\w-]+) \| (.+?) \|", section)
    assert len(thumbs) == min(5, len(qa))
    assert len({t[2] for t in thumbs}) == min(5, len({r["task"] for r in qa}))   # one per task first
    for page, name, task, question in thumbs:    # a kept item's first evidence page
        assert any(r["task"] == task and r["question"].startswith(question.rstrip("…"))
                   and int(page) == min(r["evidence_pages"]) + 1 for r in qa)
        with Image.open(rep / name) as im:
            assert im.format == "PNG" and im.width <= THUMB_WIDTH
