"""Shared builders for the trainer tests: tiny Pillow images, chat samples, shards and a tiny random model."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmprolong import schema
from mmprolong.tokens import load

SIZES = [(56, 56), (84, 56), (56, 112), (112, 84)]


def jpeg(w: int, h: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h), tuple(rnd.randrange(256) for _ in range(3)))
    for _ in range(6):
        x, y = rnd.randrange(w), rnd.randrange(h)
        img.paste(tuple(rnd.randrange(256) for _ in range(3)), (x, y, min(w, x + 9), min(h, y + 9)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def chat(seed: int, n_images: int = 2) -> tuple[list[dict], list[bytes]]:
    rnd = random.Random(seed)
    words = "alpha beta gamma delta page table figure revenue total section growth".split()
    content, images = [], []
    for k in range(n_images):
        w, h = SIZES[(seed + k) % len(SIZES)]
        content.append({"type": "image", "page": k, "width": w, "height": h})
        images.append(jpeg(w, h, seed * 10 + k))
    content.append({"type": "text", "text": "Question: " + " ".join(rnd.choice(words) for _ in range(6)) + "?"})
    answer = " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 5)))
    return [{"role": "user", "content": content},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]}], images


def write_shards(folder: Path, n: int, per_file: int = 8, seed: int = 0, max_pixels: int = 12845056) -> list[Path]:
    """Shards in schema.SAMPLES with exact n_tokens from the one TokenCounter."""
    counter = load("qwen2.5-vl")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        messages, images = chat(seed * 1000 + i, n_images=1 + i % 3)
        c = counter.count_messages(messages, max_pixels=max_pixels)
        rows.append(dict(sample_id=f"s{i:04d}", doc_id=f"d{i}", qa_id=f"q{i}", task="extract-single",
                         pages=list(range(len(images))), messages=json.dumps(messages), images=images,
                         image_sizes=[[p["width"], p["height"]] for p in messages[0]["content"]
                                      if p["type"] == "image"],
                         max_pixels=max_pixels, target=messages[1]["content"][0]["text"], n_tokens=c.total,
                         n_image_tokens=c.image_tokens, depth=0.5, bucket="tiny", recipe_hash="test"))
    paths = []
    for j in range(0, n, per_file):
        p = folder / f"part-{j // per_file:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[j:j + per_file], schema=schema.SAMPLES), p, row_group_size=4)
        paths.append(p)
    return paths
