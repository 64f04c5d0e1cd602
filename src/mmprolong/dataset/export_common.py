"""What every exporter shares: open a finished build, stream its samples, write each page image once, at its
counted size, and the settings a training tool needs to count the samples as the build did.

Training tools (LLaMA-Factory, ms-swift) read images from files and resize them themselves: LLaMA-Factory first
scales any image above `image_max_pixels` (or below `image_min_pixels`) by an area factor, then the model's processor
applies Qwen's `smart_resize`; ms-swift applies `smart_resize` with `MAX_PIXELS`. Every exported image is therefore
stored at exactly the grid the TokenCounter priced (sides multiples of the patch factor, area within the pixel
bounds; `eval.images.at_counted_size`), so each of those resizes is the identity and every sample keeps the length
in its shard's `n_tokens`, whatever the per-sample pixel budget was.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
from PIL import Image

from ..durable import durable_replace

log = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
JPEG_QUALITY = 95
COLUMNS = ["sample_id", "doc_id", "task", "messages", "images", "target", "n_tokens", "n_image_tokens"]

# Each family's chat template name in the tools, and the released checkpoint a training run starts from.
FAMILIES = {
    "qwen2_5_vl": {"llamafactory": "qwen2_vl", "swift": "qwen2_5_vl", "hf_model": "Qwen/Qwen2.5-VL-7B-Instruct"},
    "qwen2_vl": {"llamafactory": "qwen2_vl", "swift": "qwen2_vl", "hf_model": "Qwen/Qwen2-VL-7B-Instruct"},
    "qwen3_vl": {"llamafactory": "qwen3_vl_nothink", "swift": "qwen3_vl", "hf_model": "Qwen/Qwen3-VL-8B-Instruct"},
}


@dataclass(frozen=True)
class ConsumerSettings:
    """What a training tool must be told so that it counts every sample as the build did."""

    model_type: str          # the HF model_type of the counter's family
    model: str               # model to train (a local folder, or the family's released checkpoint)
    max_length: int          # the recipe's max_length: no sample is longer
    max_pixels: int          # the counter's pixel bounds; every exported image lies within them
    min_pixels: int
    factor: int              # patch_size * merge_size: image sides are multiples of it

    @property
    def llamafactory_template(self) -> str:
        return FAMILIES[self.model_type]["llamafactory"]

    @property
    def swift_template(self) -> str:
        return FAMILIES[self.model_type]["swift"]

    def as_dict(self) -> dict:
        return {"model_type": self.model_type, "model": self.model, "max_length": self.max_length,
                "max_pixels": self.max_pixels, "min_pixels": self.min_pixels, "factor": self.factor,
                "llamafactory_template": self.llamafactory_template, "swift_template": self.swift_template}


@dataclass
class Build:
    """A finished build, opened for export."""

    root: Path
    recipe: dict
    counter: object
    files: list[Path]
    n_samples: int
    manifest: dict = field(default_factory=dict)

    def settings(self, model: str | None = None) -> ConsumerSettings:
        s = self.counter.spec
        if s.hf_model_type not in FAMILIES:
            raise ValueError(f"model_type {s.hf_model_type!r}: no training-tool template known for it")
        name = self.recipe.get("model", "")
        default = name if Path(name).is_dir() else FAMILIES[s.hf_model_type]["hf_model"]
        return ConsumerSettings(s.hf_model_type, model or default, int(self.recipe["max_length"]),
                                int(self.counter.max_pixels), int(self.counter.min_pixels), int(s.factor))


def open_build(build_dir: str | Path) -> Build:
    from .. import tokens

    root = Path(build_dir)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{root}: no manifest.json; not a finished `mmprolong build` output")
    manifest = json.loads(manifest_path.read_text())
    recipe = manifest["recipe"]
    counter = tokens.load(recipe["model"], max_pixels=recipe.get("max_pixels"))
    files = sorted((root / "shards").glob("part-*.parquet"))
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return Build(root, recipe, counter, files, n, manifest)


@dataclass
class ExportSample:
    """One sample as tools want it: text with <image> placeholders in order, the image files (relative to the
    export folder) at their counted sizes, and the shard's exact counts."""

    sample_id: str
    doc_id: str
    task: str
    user: str
    assistant: str
    images: list          # what the image sink returned: paths relative to the export folder, or bytes
    image_sizes: list[tuple[int, int]]
    messages: list[dict]        # the shard's structured messages (image parts carry page, width, height, ...)
    target: str
    n_tokens: int
    n_image_tokens: int


def counted_jpeg(counter, part: dict, data: bytes, where: str = "") -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes of one image part at the grid the TokenCounter counted for it, and that (width, height). A page
    already at its grid keeps its bytes."""
    from ..eval.images import at_counted_size

    with Image.open(io.BytesIO(data)) as im:
        if im.size != (int(part["width"]), int(part["height"])):
            raise ValueError(f"{where} page {part.get('page')}: stored image is {im.width}x{im.height}, the shard "
                             f"counted {part['width']}x{part['height']}")
        out = at_counted_size(im, counter, part.get("max_pixels"))
        if out is im and im.format == "JPEG" and im.mode == "RGB":
            return data, im.size
        buf = io.BytesIO()
        out.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
        return buf.getvalue(), out.size


class ImageWriter:
    """Writes page images under DIR/images/<doc_id>/<page>-<w>x<h>.jpg at the counted grid, once, however many
    samples use them; a sample refers to them by their path relative to DIR."""

    def __init__(self, root: Path, counter):
        self.root, self.counter = Path(root), counter
        self.written = 0

    def __call__(self, doc_id: str, part: dict, data: bytes) -> tuple[str, tuple[int, int]]:
        g = self.counter.image_grid(part["width"], part["height"], part.get("max_pixels"))
        rel = f"images/{doc_id}/{int(part['page']):05d}-{g.width}x{g.height}.jpg"
        p = self.root / rel
        if not p.exists():
            jpeg, size = counted_jpeg(self.counter, part, data, doc_id)
            if size != (g.width, g.height):
                raise AssertionError(f"{rel}: resized to {size}")
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".tmp")
            tmp.write_bytes(jpeg)
            os.chmod(tmp, 0o644)
            tmp.replace(p)
            self.written += 1
        return rel, (g.width, g.height)


def _text(part: dict) -> str:
    """Text as the tools read it: a literal "<image>" in page text or answers would be taken for a placeholder
    (and fail the tools' image count check), so it is written with a zero-width space inside."""
    return part.get("text", "").replace(IMAGE_TOKEN, "<\u200bimage>")


def progress_bar(enabled: bool, total: int, what: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("samples"), TimeRemainingColumn(),
                 disable=not enabled)
    return p, p.add_task(what, total=total)


def iter_export_samples(build: Build, image_sink, files: list[Path] | None = None) -> Iterator[ExportSample]:
    """Samples of a finished build in shard order; each image goes through `image_sink(doc_id, part, jpeg_bytes)`,
    which returns (the sample's reference to it, its counted (width, height)): an `ImageWriter` for file exports."""
    for f in (build.files if files is None else files):
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=16, columns=COLUMNS):
            for row in batch.to_pylist():
                messages = json.loads(row["messages"])
                user, assistant, images, sizes = [], [], [], []
                k = 0
                for m in messages:
                    chunks = []
                    content = m["content"] if isinstance(m["content"], list) else [{"type": "text",
                                                                                    "text": m["content"]}]
                    for part in content:
                        if part.get("type") == "image":
                            if k >= len(row["images"] or []):
                                raise ValueError(f"sample {row['sample_id']}: image {k} is not embedded in the shard")
                            rel, size = image_sink(row["doc_id"], part, row["images"][k])
                            images.append(rel)
                            sizes.append(size)
                            k += 1
                            chunks.append(IMAGE_TOKEN)
                        else:
                            chunks.append(_text(part))
                    (user if m["role"] == "user" else assistant).append("".join(chunks))
                yield ExportSample(row["sample_id"], row["doc_id"], row["task"], "\n".join(user),
                                   "\n".join(assistant), images, sizes, messages, row["target"],
                                   int(row["n_tokens"]), int(row["n_image_tokens"]))


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write atomically and durably, with a readable file mode."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    durable_replace(tmp, path)


def write_conversations(build: Build, to: Path, file_name: str, as_array: bool,
                        progress: bool) -> tuple[Path, int, int, ImageWriter]:
    """TO/FILE_NAME: one `{"messages": [user, assistant], "images": [...]}` record per sample, as a JSON array
    (LLaMA-Factory) or JSON lines (ms-swift), its images written under TO/images/ at their counted size; committed
    whole (tmp, fsync, rename). Returns (path, samples, images referenced, the image writer)."""
    data = to / file_name
    tmp = data.with_name(data.name + ".tmp")
    n = n_images = 0
    writer = ImageWriter(to, build.counter)
    bar, task = progress_bar(progress, build.n_samples, "export")
    with bar, tmp.open("w") as f:
        f.write("[\n" if as_array else "")
        for s in iter_export_samples(build, writer):
            rec = {"messages": [{"role": "user", "content": s.user}, {"role": "assistant", "content": s.assistant}],
                   "images": s.images}
            f.write(("," if as_array and n else "") + json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            n_images += len(s.images)
            bar.advance(task)
        f.write("]\n" if as_array else "")
    tmp.chmod(0o644)
    durable_replace(tmp, data)
    return data, n, n_images, writer
