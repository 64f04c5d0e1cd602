"""Export to ms-swift: JSONL records `{"messages": [...], "images": [...]}` with `<image>` tags in the content.

ms-swift's standard format puts one `<image>` tag in the text per entry of "images", in order; image paths are
written absolute so the file works from any working directory.
"""

from __future__ import annotations

import json
from pathlib import Path

from .export_common import iter_export_samples


def export_swift(build_dir: str | Path, to: str | Path, name: str = "mmprolong") -> dict:
    """Write TO/<name>.jsonl and TO/images/; returns counts."""
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    data = to / f"{name}.jsonl"
    tmp = data.with_name(data.name + ".tmp")
    n = n_images = 0
    with tmp.open("w") as f:
        for s in iter_export_samples(build_dir, to):
            rec = {"messages": [{"role": "user", "content": s.user}, {"role": "assistant", "content": s.assistant}],
                   "images": [str(p.resolve()) for p in s.images]}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            n_images += len(s.images)
    tmp.replace(data)
    return {"samples": n, "images": n_images, "file": str(data)}
