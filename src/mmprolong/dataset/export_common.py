"""What both exporters share: stream a build's samples and write each page image once as a file.

Training tools (LLaMA-Factory, ms-swift) read images from files and resize them with one global pixel bound. A
sample whose pixel bound was lowered by the per-sample visual budget is exported with its images already resized to
the grid the TokenCounter counted (sides multiples of the patch factor), so the tool's resize keeps that grid and the
sample's length stays the counted one.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
from PIL import Image

IMAGE_TOKEN = "<image>"


@dataclass
class ExportSample:
    """One sample as tools want it: text with <image> placeholders in order, and the image files."""

    sample_id: str
    user: str
    assistant: str
    images: list[Path]


class ImageWriter:
    """Writes page images under DIR/images/<doc_id>/<page>.jpg once, however many samples use them."""

    def __init__(self, root: Path, counter):
        self.root, self.counter = Path(root), counter

    def path(self, doc_id: str, page: int, part: dict, data: bytes) -> Path:
        mp = part.get("max_pixels")
        name = f"{page:05d}.jpg" if mp is None else f"{page:05d}-mp{mp}.jpg"
        p = self.root / "images" / doc_id / name
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".tmp")
            if mp is None:
                tmp.write_bytes(data)
            else:
                g = self.counter.image_grid(part["width"], part["height"], mp)
                with Image.open(io.BytesIO(data)) as im:
                    im.convert("RGB").resize((g.width, g.height), Image.Resampling.BICUBIC).save(
                        tmp, format="JPEG", quality=90)
            tmp.replace(p)
        return p


def _text(part: dict) -> str:
    """Text as the tools read it: a literal "<image>" in page text or answers would be taken for a placeholder
    (and fail the tools' image count check), so it is written with a zero-width space inside."""
    return part.get("text", "").replace(IMAGE_TOKEN, "<\u200bimage>")


def iter_export_samples(build_dir: str | Path, to: str | Path) -> Iterator[ExportSample]:
    """Samples of a finished build, images written under `to`, in shard order."""
    from .. import tokens

    build_dir = Path(build_dir)
    manifest_path = build_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{build_dir}: no manifest.json; not a finished `mmprolong build` output")
    recipe = json.loads(manifest_path.read_text())["recipe"]
    counter = tokens.load(recipe["model"], max_pixels=recipe.get("max_pixels"))
    writer = ImageWriter(Path(to), counter)
    for f in sorted((build_dir / "shards").glob("part-*.parquet")):
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=16, columns=["sample_id", "doc_id", "messages", "images"]):
            for row in batch.to_pylist():
                messages = json.loads(row["messages"])
                user, assistant, images = [], [], []
                k = 0
                for m in messages:
                    chunks = []
                    content = m["content"] if isinstance(m["content"], list) else [{"type": "text",
                                                                                    "text": m["content"]}]
                    for part in content:
                        if part.get("type") == "image":
                            images.append(writer.path(row["doc_id"], int(part["page"]), part, row["images"][k]))
                            k += 1
                            chunks.append(IMAGE_TOKEN)
                        else:
                            chunks.append(_text(part))
                    (user if m["role"] == "user" else assistant).append("".join(chunks))
                yield ExportSample(row["sample_id"], "\n".join(user), "\n".join(assistant), images)
