"""Small real documents (Pillow JPEGs, text layers with checkable facts) and a real page store written per schema.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmprolong import schema
from mmprolong.corpus.store import Document


def jpeg(width: int, height: int, shade: int = 200) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade, shade, shade)).save(buf, format="JPEG", quality=50)
    return buf.getvalue()


PLACES = ("Northwind", "Eastbrook", "Redhill", "Marlow", "Kestrel", "Ashford", "Brightwater", "Oakridge")


def fact_text(doc_id: str, p: int) -> str:
    """A page text layer with checkable facts (what the rules generator asks about)."""
    k = sum(map(ord, doc_id)) + p
    place = PLACES[k % len(PLACES)]
    return (f"The {place} plant produced {1000 + 37 * k:,} tonnes of steel in {2000 + p % 20}. "
            f"The {PLACES[(k + 3) % len(PLACES)]} plant employed {100 + 7 * k} workers in {2001 + p % 19}.")


def make_document(doc_id: str, n_pages: int, size: tuple[int, int] = (612, 792),
                  sizes: list[tuple[int, int]] | None = None) -> Document:
    pages = []
    for p in range(n_pages):
        w, h = sizes[p] if sizes else size
        pages.append({"doc_id": doc_id, "page": p, "width": float(w), "height": float(h), "image": jpeg(w, h, p % 250),
                      "image_width": w, "image_height": h, "text": fact_text(doc_id, p)})
    return Document(doc_id=doc_id, source=f"{doc_id}.pdf", n_pages=n_pages, title=f"Doc {doc_id}",
                    sections=[{"first_page": s, "level": 1, "heading": f"Section {s // 6 + 1}"}
                              for s in range(0, n_pages, 6)], pages=pages)


def write_store(root: Path, docs: list[Document]) -> Path:
    """A page store as `mmprolong ingest` writes it: docs/ and pages/ Parquet files and a manifest."""
    (root / "docs").mkdir(parents=True)
    (root / "pages").mkdir()
    drows = [{"doc_id": d.doc_id, "source": d.source, "n_pages": d.n_pages, "title": d.title, "sections": d.sections,
              "sections_from": "outline", "status": "ok", "error": "", "file_bytes": 1, "dpi": 72, "seconds": 0.0}
             for d in docs]
    pq.write_table(pa.Table.from_pylist(drows, schema=schema.DOCS), root / "docs" / "part-00000.parquet")
    prows = [p for d in docs for p in d.pages]
    pq.write_table(pa.Table.from_pylist(prows, schema=schema.PAGES), root / "pages" / "part-00000.parquet")
    (root / "manifest.json").write_text(json.dumps({"docs": len(docs)}))
    return root


def write_tiny_store(root: Path, n_docs: int) -> Path:
    """The build tests' store: n_docs small documents of 8-20 pages with facts, and one blank one (no text: nothing
    to ask, a no-qa document)."""
    docs = [make_document(f"doc{i:02d}", 8 + 3 * (i % 5), size=(308, 396)) for i in range(n_docs)]
    nofacts = make_document("doc99-blank", 10, size=(308, 396))
    for p in nofacts.pages:
        p["text"] = ""
    return write_store(root, docs + [nofacts])
