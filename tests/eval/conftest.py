"""Fixtures: a small real page store (Parquet per schema.DOCS/PAGES, real JPEGs from Pillow)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from mmprolong import schema


def jpeg(w: int, h: int, label: str = "") -> bytes:
    im = Image.new("RGB", (w, h), "white")
    if label:
        ImageDraw.Draw(im).text((10, 10), label, fill="black")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=60)
    return buf.getvalue()


def make_store(root: Path, n_docs: int = 8, n_pages: int = 12, sizes=((1000, 1400), (1400, 1000), (1200, 1700)),
               text: bool = True) -> list[str]:
    """A page store with n_docs documents; returns their doc_ids (sha256 of a fake PDF payload)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "pages").mkdir(exist_ok=True)
    cache: dict = {}
    docs, pages = [], []
    for d in range(n_docs):
        doc_id = hashlib.sha256(f"pdf-{d}".encode()).hexdigest()
        npg = n_pages + (d % 3)
        docs.append({"doc_id": doc_id, "source": f"doc{d}.pdf", "n_pages": npg, "title": f"Doc {d}",
                     "sections": [], "sections_from": "none", "status": "ok", "error": "", "file_bytes": 1000,
                     "dpi": 144, "seconds": 0.1})
        for p in range(npg):
            w, h = sizes[(d + p) % len(sizes)]
            if (w, h) not in cache:
                cache[(w, h)] = jpeg(w, h)
            pages.append({"doc_id": doc_id, "page": p, "width": w / 2.0, "height": h / 2.0, "image": cache[(w, h)],
                          "image_width": w, "image_height": h,
                          "text": f"Document {d} page {p}. Revenue was {100 + p} million." if text else ""})
        ids = doc_id
    pq.write_table(pa.Table.from_pylist(docs, schema=schema.DOCS), root / "docs" / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(pages, schema=schema.PAGES), root / "pages" / "part-0.parquet")
    (root / "manifest.json").write_text(json.dumps({"dpi": 144}))
    return [r["doc_id"] for r in docs]


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    make_store(root)
    return root


@pytest.fixture(scope="session")
def doc_ids(store_dir) -> list[str]:
    from mmprolong.corpus.store import PageStore
    return PageStore(store_dir).doc_ids()
