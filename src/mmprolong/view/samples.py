"""Sample items for the data report: a handful of kept items (one per task first, seeded), each with its question,
answer and a small PNG thumbnail of its first evidence page written beside report.md, and the `mmprolong view`
line that opens the whole build."""

from __future__ import annotations

import io
import logging
import random
from pathlib import Path

log = logging.getLogger(__name__)

THUMB_WIDTH = 160


def _pick(rows: list[dict], k: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    by_task: dict[str, list[dict]] = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    picked: list[dict] = []
    while len(picked) < k and any(by_task.values()):
        for t in sorted(by_task):
            if by_task[t] and len(picked) < k:
                picked.append(by_task[t].pop(rng.randrange(len(by_task[t]))))
    return picked


def _cell(s: str, n: int = 240) -> str:
    s = " ".join(str(s).split()).replace("|", "\\|")
    return s if len(s) <= n else s[:n - 1] + "…"


def sample_section(out, rep: Path, manifest: dict, k: int = 5, seed: int = 0) -> list[str]:
    """Markdown lines of the report's "Sample items" section; thumbnails go to rep/sample-<i>.png."""
    from ..dataset.parts import read_table
    from .pages import PageSource

    cols = ["qa_id", "task", "doc_id", "question", "answer", "evidence_pages"]
    rows = read_table(out, "qa", cols).to_pylist()
    lines = ["## Sample items", "",
             f"Every kept instance and rejected candidate, with its evidence pages, checks and reason: "
             f"`mmprolong view {out}`; grade a seeded sample by hand there, then `mmprolong grades {out}` prints "
             "the measured precision.", ""]
    if not rows:
        return lines + ["no kept items", ""]
    pages = PageSource((manifest.get("store") or {}).get("path"))
    table = ["| | task | question | answer |", "|---|---|---|---|"]
    for i, r in enumerate(_pick(rows, k, seed)):
        thumb = ""
        ev = sorted(r["evidence_pages"] or [])
        try:
            data = pages.image(r["doc_id"], ev[0], THUMB_WIDTH) if ev else None
        except (OSError, ValueError, KeyError) as e:   # the report never fails for a thumbnail
            log.warning("report: no thumbnail for %s: %s", r["qa_id"], e)
            data = None
        if data is not None:
            from PIL import Image

            name = f"sample-{i + 1}.png"
            im = Image.open(io.BytesIO(data)).convert("RGB")
            im.save(rep / name, optimize=True)
            thumb = f"![page {ev[0] + 1}]({name})"
        table.append(f"| {thumb} | {r['task']} | {_cell(r['question'])} | {_cell(r['answer'], 80)} |")
    return lines + table + [""]
