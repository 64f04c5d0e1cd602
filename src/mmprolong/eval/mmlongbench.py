"""Import MMLongBench-style document-QA files the user has on disk (no downloads) into a QA set for `eval build`.

Input: the QA file (MMLongBench-Doc's samples.json, or any JSON/JSONL with the same fields, other names mapped
with `fields`, e.g. {"doc_id": "doc_no"}: doc_id = the document's file name (".pdf" may be left off), question, answer, answer_format Str|Int|Float|List|None, evidence_pages as a list or a string like
"[3, 4]", 1-based unless told otherwise, evidence_sources) and a folder with the documents, each either a PDF
(`<doc_id>`) or a folder of page images (`<doc_id without .pdf>/`, pages in natural file-name order).
PDFs are ingested with the project's ingester (doc_id = sha256 of the PDF bytes); image folders are written to the
store as one committed part (doc_id = sha256 of the page images' bytes). Gold documents go to the exclusion list.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from .. import schema
from ..corpus.store import PageStore
from .exclusion import add_to_exclusion
from .qaset import QAItem, item_from_row

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _as_list(v) -> list:
    if v is None or v == "":
        return []
    if isinstance(v, str):
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return [s.strip() for s in v.strip("[]").split(",") if s.strip()]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def read_rows(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such QA file")
    text = p.read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def _image_doc(folder: Path, dpi: int = 144) -> tuple[str, list[dict]]:
    files = sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXT), key=_natural)
    if not files:
        raise ValueError(f"{folder}: no page images")
    h = hashlib.sha256()
    pages = []
    for i, f in enumerate(files):
        raw = f.read_bytes()
        h.update(raw)
        im = Image.open(io.BytesIO(raw)).convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        pages.append({"page": i, "width": im.width * 72.0 / dpi, "height": im.height * 72.0 / dpi,
                      "image": buf.getvalue(), "image_width": im.width, "image_height": im.height, "text": ""})
    return h.hexdigest(), pages


def _write_image_docs(store_root: Path, docs: dict[str, tuple[str, list[dict]]]) -> None:
    """One committed part (pages file first, then the docs file that commits it), named for its content."""
    (store_root / "docs").mkdir(parents=True, exist_ok=True)
    (store_root / "pages").mkdir(parents=True, exist_ok=True)
    doc_rows, page_rows = [], []
    for source, (doc_id, pages) in sorted(docs.items()):
        doc_rows.append({"doc_id": doc_id, "source": source, "n_pages": len(pages), "title": Path(source).name,
                         "sections": [], "sections_from": "none", "status": "ok", "error": "", "file_bytes": 0,
                         "dpi": 144, "seconds": 0.0})
        page_rows += [{"doc_id": doc_id, **p} for p in pages]
    name = "import-" + hashlib.sha256("".join(sorted(d for d, _ in docs.values())).encode()).hexdigest()[:16]
    for sub, rows, sch in (("pages", page_rows, schema.PAGES), ("docs", doc_rows, schema.DOCS)):
        tmp = store_root / sub / f"{name}.parquet.tmp"
        pq.write_table(pa.Table.from_pylist(rows, schema=sch), tmp)
        tmp.replace(store_root / sub / f"{name}.parquet")


FIELDS = ("doc_id", "question", "answer", "answer_format", "evidence_pages", "evidence_sources", "dataset")


def rename_fields(rows: list[dict], mapping: dict[str, str]) -> list[dict]:
    """Rows with fields renamed to ours: mapping is {our_field: their_field} (e.g. doc_id -> doc_no for LongDocURL)."""
    bad = set(mapping) - set(FIELDS)
    if bad:
        raise ValueError(f"unknown field(s) {sorted(bad)} in the field mapping; ours are {FIELDS}")
    out = []
    for r in rows:
        r = dict(r)
        for ours, theirs in mapping.items():
            if theirs not in r:
                raise ValueError(f"QA row has no field {theirs!r} (mapped to {ours!r})")
            r[ours] = r.pop(theirs)
        out.append(r)
    return out


def import_mmlongbench(qa_file: str | Path, docs_dir: str | Path, store: str | Path, out: str | Path,
                       dataset: str | None = None, pages_base: int = 1, exclusion: str | Path | None = None,
                       workers: int | None = None, progress: bool = True, fields: dict[str, str] | None = None
                       ) -> dict:
    """Write a QA set (JSONL, `eval build`'s input) whose doc_ids point at documents in `store`."""
    from ..corpus.filters import sha256_file

    docs_dir, store = Path(docs_dir), Path(store)
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"{docs_dir}: no documents folder")
    rows = rename_fields(read_rows(qa_file), fields or {})
    ds_name = dataset or Path(qa_file).stem
    names = sorted({str(r.get("doc_id") or r.get("doc") or "") for r in rows})
    if "" in names:
        raise ValueError("a QA row has no doc_id / doc (the document's file name)")
    ids: dict[str, str] = {}
    pdfs, image_docs, missing = [], {}, []
    for n in names:
        pdf, folder = docs_dir / n, docs_dir / Path(n).stem
        if not pdf.is_file() and (docs_dir / f"{n}.pdf").is_file():
            pdf = docs_dir / f"{n}.pdf"
        if pdf.is_file():
            ids[n] = sha256_file(pdf)
            pdfs.append(str(pdf))
        elif folder.is_dir():
            image_docs[n] = _image_doc(folder)
            ids[n] = image_docs[n][0]
        else:
            missing.append(n)
    if missing:
        raise FileNotFoundError(f"{len(missing)} documents not under {docs_dir}: {missing[:3]}")
    if pdfs:
        from ..corpus.ingest import IngestConfig, ingest
        ingest(pdfs, store, IngestConfig(workers=workers, progress=progress))
    have = set(PageStore(store).doc_ids()) if (store / "docs").is_dir() else set()
    new_images = {n: v for n, v in image_docs.items() if v[0] not in have}
    if new_images:
        _write_image_docs(store, new_images)
    have = set(PageStore(store).doc_ids())
    items: list[QAItem] = []
    skipped = 0
    for r in rows:
        name = str(r.get("doc_id") or r.get("doc"))
        if ids[name] not in have:  # the ingester refused it (corrupt, too few pages, ...): recorded in its docs
            skipped += 1
            continue
        pages = [int(p) - pages_base for p in _as_list(r.get("evidence_pages"))]
        items.append(item_from_row({
            "doc_id": ids[name], "question": r["question"], "answer": r["answer"],
            "answer_format": r.get("answer_format"), "evidence_pages": pages,
            "evidence_sources": [str(s) for s in _as_list(r.get("evidence_sources"))],
            "dataset": r.get("dataset") or ds_name}, ds_name))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("".join(json.dumps(asdict(i), ensure_ascii=False) + "\n" for i in items))
    added = add_to_exclusion(exclusion, set(ids.values())) if exclusion else 0
    return {"qa": len(items), "skipped": skipped, "documents": len(ids), "pdfs": len(pdfs),
            "image_documents": len(image_docs), "exclusion_added": added}
