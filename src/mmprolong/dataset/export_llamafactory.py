"""Export to LLaMA-Factory: a sharegpt-style JSON file plus its dataset_info.json entry.

Each record is `{"messages": [{"role": "user", "content": "Page 1:<image>...question"}, {"role": "assistant",
"content": answer}], "images": ["images/<doc>/<page>.jpg", ...]}`, one `<image>` per image in order. Image paths are
relative to the export folder, which LLaMA-Factory resolves against `media_dir` (default: the dataset_dir), so use
the export folder as `dataset_dir`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .export_common import iter_export_samples


def dataset_info_entry(file_name: str) -> dict:
    return {"file_name": file_name, "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}


def export_llamafactory(build_dir: str | Path, to: str | Path, name: str = "mmprolong") -> dict:
    """Write TO/<name>.json, TO/images/ and add `name` to TO/dataset_info.json; returns counts."""
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    data = to / f"{name}.json"
    tmp = data.with_name(data.name + ".tmp")
    n = n_images = 0
    with tmp.open("w") as f:
        f.write("[\n")
        for s in iter_export_samples(build_dir, to):
            rec = {"messages": [{"role": "user", "content": s.user}, {"role": "assistant", "content": s.assistant}],
                   "images": [str(p.relative_to(to)) for p in s.images]}
            f.write(("," if n else "") + json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            n_images += len(s.images)
        f.write("]\n")
    tmp.replace(data)
    info_path = to / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info[name] = dataset_info_entry(data.name)
    info_path.write_text(json.dumps(info, indent=2))
    return {"samples": n, "images": n_images, "file": str(data), "dataset_info": str(info_path)}
