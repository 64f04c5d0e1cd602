"""Export to a Hugging Face dataset folder: Parquet files with typed `datasets` features and a dataset card.

`datasets.load_dataset(DIR)` gives `messages` as structures (role, and content parts `{"type": "image" | "text",
"text", "page"}`), `images` as a list of decoded PIL images in the order of the image parts, each already at the
size the TokenCounter counted (so a Qwen processor's resize is the identity), and the shard's exact `n_tokens` /
`n_image_tokens`. The features travel inside each Parquet file's schema metadata, so no loading script is needed.

Publishing is one command (huggingface_hub's CLI): `hf upload USER/NAME DIR . --repo-type dataset`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .export_common import counted_jpeg, iter_export_samples, open_build, progress_bar, write_text

ROWS_PER_GROUP = 16


def features():
    try:
        from datasets import Features, Image, List, Value
    except ImportError as e:
        raise ValueError("--format hf needs the datasets package (>= 4.0): pip install 'mmprolong[hf]'") from e

    part = {"type": Value("string"), "text": Value("string"), "page": Value("int32")}
    return Features({
        "sample_id": Value("string"),
        "doc_id": Value("string"),
        "task": Value("string"),
        "messages": List({"role": Value("string"), "content": List(part)}),
        "images": List(Image()),
        "target": Value("string"),
        "n_tokens": Value("int32"),
        "n_image_tokens": Value("int32"),
    })


def _messages(messages: list[dict]) -> list[dict]:
    out = []
    for m in messages:
        content = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        out.append({"role": m["role"], "content": [
            {"type": p["type"], "text": p.get("text") if p["type"] == "text" else None,
             "page": int(p["page"]) if p.get("page") is not None else None} for p in content]})
    return out


def card(name: str, n: int, settings: dict, recipe_hash: str | None) -> str:
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
tags:
- long-context
- document-vqa
- mmprolong
---
# {name}

{n} long-document VQA training samples written by `mmprolong export --format hf` (recipe hash {recipe_hash}).

- `messages`: user turn = page images in document order (content parts `{{"type": "image", "page": p}}`, 0-based
  page) with `Page N:` markers and the question; assistant turn = the answer.
- `images`: the page images of the image parts, in order, stored at the size the token count used
  ({settings['model_type']}: sides multiples of {settings['factor']} px, {settings['min_pixels']:,} to
  {settings['max_pixels']:,} pixels), so the processor's resize keeps them.
- `n_tokens`, `n_image_tokens`: exact lengths under the model's chat template; none exceeds max_length
  {settings['max_length']:,}.

```python
from datasets import load_dataset
ds = load_dataset("path/or/hub-id", split="train")
```

Publish: `hf upload USER/NAME . . --repo-type dataset` from this folder.
"""


def export_hf(build_dir: str | Path, to: str | Path, name: str = "mmprolong", model: str | None = None,
              progress: bool = False) -> dict:
    """Write TO/data/train-*.parquet (one per shard part) and TO/README.md; returns counts."""
    from ..run.outdir import claim

    with claim(to, "export", "export hf"):   # one writer; never into a folder of another kind
        return _export_hf(build_dir, to, name, model, progress)


def _export_hf(build_dir, to, name, model, progress) -> dict:
    build = open_build(build_dir)
    settings = build.settings(model).as_dict()
    feats = features()
    schema = feats.arrow_schema
    to = Path(to)
    (to / "data").mkdir(parents=True, exist_ok=True)
    for old in (to / "data").glob("train-*.parquet"):
        old.unlink()

    def sink(doc_id: str, part: dict, data: bytes):
        jpeg, size = counted_jpeg(build.counter, part, data, doc_id)
        return {"bytes": jpeg, "path": f"{doc_id}-{int(part['page']):05d}-{size[0]}x{size[1]}.jpg"}, size

    n = n_images = 0
    files = []
    bar, task = progress_bar(progress, build.n_samples, "export")
    with bar:
        for i, f in enumerate(build.files):
            path = to / "data" / f"train-{i:05d}-of-{len(build.files):05d}.parquet"
            tmp = path.with_name(path.name + ".tmp")
            rows: list[dict] = []
            with pq.ParquetWriter(tmp, schema) as w:
                def flush():
                    if rows:
                        w.write_table(pa.Table.from_pylist([feats.encode_example(r) for r in rows], schema=schema))
                        rows.clear()

                for s in iter_export_samples(build, sink, files=[f]):
                    rows.append({"sample_id": s.sample_id, "doc_id": s.doc_id, "task": s.task,
                                 "messages": _messages(s.messages), "images": s.images, "target": s.target,
                                 "n_tokens": s.n_tokens, "n_image_tokens": s.n_image_tokens})
                    n += 1
                    n_images += len(s.images)
                    bar.advance(task)
                    if len(rows) >= ROWS_PER_GROUP:
                        flush()
                flush()
            tmp.chmod(0o644)
            tmp.replace(path)
            files.append(str(path))
    write_text(to / "README.md", card(name, n, settings, build.manifest.get("recipe_hash")))
    write_text(to / "mmprolong_export.json", json.dumps({"samples": n, "images": n_images, "settings": settings,
                                                         "recipe_hash": build.manifest.get("recipe_hash")}, indent=1))
    return {"samples": n, "images": n_images, "file": str(to / "data"), "files": files, "settings": settings,
            "next": f"python -c \"import datasets; print(datasets.load_dataset('{to}', split='train'))\"; "
                    f"publish: hf upload USER/{name} {to} . --repo-type dataset"}
