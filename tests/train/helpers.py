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


# --- equality of two computations that are mathematically equal ---------------------------------------------------
# The trainer's equivalence tests (packed vs one by one, SP 2 vs 1, FSDP vs one process, per-document attention vs a
# block-diagonal mask, chunked vs plain loss) run the tiny models in float64. The two sides sum the same terms in a
# different order (other kernels, other shapes, other thread splits: Intel vs AMD, AVX2 vs AVX-512), so they differ
# by rounding only: a few hundred ulps of the largest magnitude involved (observed: ~1e-15 relative). The tolerance is
# sqrt(eps) of float64 (1.5e-8) relative to that magnitude: 7 orders of magnitude above the rounding noise on any
# CPU, 6 orders below the smallest real defect these tests guard against (one token seeing another sample changes
# the loss and gradients at 1e-2 relative). In float32 the same bound would be sqrt(1.2e-7) = 3.5e-4, too loose to
# mean anything, which is why the models are run in float64.
def f64_tol(dtype=None) -> float:
    import torch

    return float(torch.finfo(dtype or torch.float64).eps) ** 0.5


def assert_same(a, b, what: str = "") -> None:
    """a equals b up to rounding: |a - b| <= sqrt(eps) * max(|a|max, |b|max, tiny), in the tensors' dtype (float64)."""
    import torch

    if not torch.is_tensor(a):
        a, b = torch.tensor(float(a), dtype=torch.float64), torch.tensor(float(b), dtype=torch.float64)
    assert a.dtype == torch.float64 and b.dtype == torch.float64, f"{what}: compare in float64, got {a.dtype}/{b.dtype}"
    scale = max(float(a.abs().max()), float(b.abs().max()), float(torch.finfo(torch.float64).tiny))
    diff = float((a - b).abs().max())
    assert diff <= f64_tol() * scale, f"{what}: max |diff| {diff:.3e} > {f64_tol():.1e} x scale {scale:.3e}"
