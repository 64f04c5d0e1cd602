"""Import document-QA benchmarks the user has on disk (no downloads) into a QA set for `eval build`.

Presets (`--preset`) name each benchmark's fields, page numbering and answer types:

| preset | document field | evidence field (numbering) | answer types |
|---|---|---|---|
| mmlongbench-doc (default) | doc_id (file name) | evidence_pages, 1-based, "[3, 4]" | Str, Int, Float, List, None |
| mmlongbench | doc_name | ans_page_list, 0-based | String, Integer, Float, List, None |
| longdocurl | doc_no | evidence_pages, 1-based; page file `<doc>_<k>.png` holds page k+1 | as MMLongBench |
| slidevqa | deck_name | evidence_pages, 1-based | numbers -> Integer / Float, a list -> List, else String |

`fields` ({our_field: their_field}) and `pages_base` override a preset. Documents live in a folder, each a PDF
(`<name>` or `<name>.pdf`) or a folder of page images (`<name without .pdf>/`). When every image file name ends in
a number (`page12.png`, `4045130_41.png`, `slide_3.jpg`), pages are ordered by it and evidence pages are looked up
by it, so a folder holding a window of a document's pages maps each evidence page to its own file. Which number the
first page's file has is the preset's when it says (LongDocURL's extractor names page k+1 `<doc>_<k>.png`, so a
window of pages 42-71 is files `_41`..`_70`); otherwise it is read from the folder: files numbered 0..n-1 or 1..n
are a whole document numbered from 0 or 1, whatever the evidence numbering (`mmlongbench` evidence is 0-based and
its page files may start at 1); any other run of numbers (a window) is taken to use the evidence numbering. The
summary counts the documents of each file numbering and the items whose pages were mapped across bases
(`file_numbering`, `items_renumbered`; logged as a warning). Without numbers, pages are in natural file-name order
and numbered from `pages_base`.

Refused at import, listed in the summary with file, line and field (and written to `<out>.refused.jsonl`): evidence
pages outside the document or not whole numbers (`"3-5"`), an answer_format that is not one of MMLongBench's
(`"Numeric"`), a null or empty answer, question or document, golds MMLongBench's scorer cannot read (an Integer gold
that is not an integer, a List gold that is not a list). MMLongBench-Doc's own data and scorer use exactly these
formats and page lists, so nothing else is guessed. Malformed input is an error naming the file and line: bad JSON,
a missing field (usually the wrong preset).
PDFs are ingested with the project's ingester (doc_id = sha256 of the PDF bytes); image folders are written to the
store as one committed part (doc_id = sha256 of the page images' bytes). Gold documents go to the exclusion list.
The QA file read, the store and the QA JSONL written may be local paths or fsspec URLs (`mmprolong.storage`); the
documents folder is local (the ingester reads local PDFs).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import logging
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
from PIL import Image
from pydantic import BaseModel, ConfigDict

from .. import schema, storage
from ..corpus.store import PageStore
from .exclusion import add_to_exclusion
from .qaset import QAItem, item_from_row, normalize_format, page_list

log = logging.getLogger(__name__)

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FIELDS = ("doc_id", "question", "answer", "answer_format", "evidence_pages", "evidence_sources", "dataset")
REQUIRED = ("doc_id", "question", "answer")


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = {}      # our field -> theirs
    pages_base: int = 1
    answer_types: str = "mmlongbench"   # "mmlongbench" (format names) or "slidevqa" (answer_type + the answer)
    file_base: int | None = None        # the number in the file name of page 1 (None: read from each folder)


PRESETS = {
    "mmlongbench-doc": Preset(),
    "mmlongbench": Preset(fields={"doc_id": "doc_name", "evidence_pages": "ans_page_list"}, pages_base=0),
    "longdocurl": Preset(fields={"doc_id": "doc_no"}, file_base=0),   # its extractor: page k+1 -> <doc>_<k>.png
    "slidevqa": Preset(fields={"doc_id": "deck_name", "answer_format": "answer_type"}, answer_types="slidevqa"),
}


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def file_base(nums: list[int], declared: int | None, pages_base: int) -> tuple[int, str]:
    """(the number in the file name of a document's first page, how it was decided) for a folder whose files carry
    the page numbers `nums`: the preset's, else 0 or 1 when the files are numbered 0..n-1 or 1..n (a whole
    document), else the evidence numbering (a window of pages named as the evidence counts them)."""
    if declared is not None:
        return declared, f"from {declared} (preset)"
    s = sorted(nums)
    for b in (0, 1):
        if s == list(range(b, b + len(s))):
            return b, f"from {b}"
    return pages_base, "window"


def _as_list(v) -> list:
    if v is None or v == "":
        return []
    if isinstance(v, str):
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return [s.strip() for s in v.strip("[]").split(",") if s.strip()]
    return list(v) if isinstance(v, (list, tuple)) else [v]


def read_rows(path: str | Path) -> list[tuple[str, dict]]:
    """(where, row) pairs: where = "file:line" (JSONL) or "file: item N" (a JSON array). Malformed JSON is an
    error naming the file and line."""
    p = storage.normalize(path)
    if not storage.exists(p):
        raise FileNotFoundError(f"{p}: no such QA file")
    text = storage.read_text(p)
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{e.lineno}:{e.colno}: bad JSON: {e.msg}") from None
        out = [(f"{p}: item {i}", r) for i, r in enumerate(rows, 1)]
    else:
        out = []
        for i, ln in enumerate(text.splitlines(), 1):
            if ln.strip():
                try:
                    out.append((f"{p}:{i}", json.loads(ln)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}:{i}:{e.colno}: bad JSON: {e.msg}") from None
    for where, r in out:
        if not isinstance(r, dict):
            raise ValueError(f"{where}: a QA row must be a JSON object, got {type(r).__name__}")
    return out


def page_numbers(files: list[Path]) -> list[int] | None:
    """The page number at the end of every file's stem (`page12`, `4045130_41`, `slide-3`), when all have one and
    they are distinct; else None."""
    nums = []
    for f in files:
        m = re.search(r"(\d+)$", f.stem)
        if not m:
            return None
        nums.append(int(m.group(1)))
    return nums if len(set(nums)) == len(nums) else None


def _image_doc(folder: Path, dpi: int = 144) -> tuple[str, list[dict], list[int] | None]:
    files = [f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXT]
    if not files:
        raise ValueError(f"{folder}: no page images")
    nums = page_numbers(files)
    if nums is not None:
        order = sorted(range(len(files)), key=lambda i: nums[i])
        files, nums = [files[i] for i in order], [nums[i] for i in order]
    else:
        files = sorted(files, key=_natural)
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
    return h.hexdigest(), pages, nums


def _write_image_docs(store_root: str, docs: dict[str, tuple[str, list[dict]]]) -> None:
    """One committed part (pages file first, then the docs file that commits it), named for its content."""
    storage.makedirs(storage.join(store_root, "docs"))
    storage.makedirs(storage.join(store_root, "pages"))
    doc_rows, page_rows = [], []
    for source, (doc_id, pages) in sorted(docs.items()):
        doc_rows.append({"doc_id": doc_id, "source": source, "n_pages": len(pages), "title": Path(source).name,
                         "sections": [], "sections_from": "none", "status": "ok", "error": "", "file_bytes": 0,
                         "dpi": 144, "seconds": 0.0})
        page_rows += [{"doc_id": doc_id, **p} for p in pages]
    name = "import-" + hashlib.sha256("".join(sorted(d for d, _ in docs.values())).encode()).hexdigest()[:16]
    for sub, rows, sch in (("pages", page_rows, schema.PAGES), ("docs", doc_rows, schema.DOCS)):
        table = pa.Table.from_pylist(rows, schema=sch)
        storage.write_parquet(table, storage.join(store_root, sub, f"{name}.parquet"))   # tmp, fsync, rename


def rename_fields(rows: list[tuple[str, dict]], mapping: dict[str, str]) -> list[tuple[str, dict]]:
    """Rows with fields renamed to ours: mapping is {our_field: their_field} (e.g. doc_id -> doc_no). A required
    field missing is an error naming the file, line and field."""
    bad = set(mapping) - set(FIELDS)
    if bad:
        raise ValueError(f"unknown field(s) {sorted(bad)} in the field mapping; ours are {FIELDS}")
    out = []
    for where, r in rows:
        r = dict(r)
        for ours, theirs in mapping.items():
            if theirs in r:
                r[ours] = r.pop(theirs)
        for k in REQUIRED:
            if k not in r:   # a field the file does not have (null or empty values are refused per item)
                theirs = mapping.get(k, k)
                raise ValueError(f"{where}: no field {theirs!r}" + (f" (our {k})" if theirs != k else "")
                                 + f"; the row has {sorted(r)[:12]}")
        out.append((where, r))
    return out


def _number_format(answer: str) -> str | None:
    t = answer.strip().replace(",", "")
    if re.fullmatch(r"[-+]?\d+", t):
        return "Integer"
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)%?|[-+]?\d+%", t):
        return "Float"
    return None


def slidevqa_format(answer, answer_type: str | None) -> str:
    """SlideVQA answer types (Single-Span, Multi-Span, Non-Span, Arithmetic ...) to MMLongBench formats: a numeric
    answer is Integer or Float, a list answer List, anything else String."""
    if isinstance(answer, list):
        return "List"
    if isinstance(answer, bool):
        return "String"
    if isinstance(answer, int):
        return "Integer"
    if isinstance(answer, float):
        return "Float"
    a = str(answer)
    num = _number_format(a)
    if num:
        return num
    if a.strip().startswith("[") and isinstance(_as_list(a), list) and "span" in str(answer_type or "").lower():
        return "List"
    return "String"


def _answer(v, fmt: str) -> str:
    """The gold as text; a List gold as a JSON list (MMLongBench's form), whatever literal it came as."""
    if fmt == "List":
        items = v if isinstance(v, (list, tuple)) else _as_list(v)
        return json.dumps(list(items), ensure_ascii=False)
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def import_mmlongbench(qa_file: str | Path, docs_dir: str | Path, store: str | Path, out: str | Path,
                       dataset: str | None = None, pages_base: int | None = None,
                       exclusion: str | Path | None = None, workers: int | None = None, progress: bool = True,
                       fields: dict[str, str] | None = None, preset: str = "mmlongbench-doc") -> dict:
    """Write a QA set (JSONL, `eval build`'s input) whose doc_ids point at documents in `store`."""
    from ..corpus.filters import sha256_file
    from .scorers.mmlongbench import check_gold

    if preset not in PRESETS:
        raise ValueError(f"unknown import preset {preset!r}; use one of {', '.join(PRESETS)}")
    pre = PRESETS[preset]
    base = pre.pages_base if pages_base is None else pages_base
    docs_dir, store = Path(docs_dir), storage.normalize(store)
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"{docs_dir}: no documents folder")
    mapping = {**pre.fields, **(fields or {})}
    rows = all_rows = rename_fields(read_rows(qa_file), mapping)
    ds_name = dataset or Path(storage.name(qa_file)).stem
    refused: list[dict] = []
    usable = []
    for where, r in rows:   # a null or empty required value: that item is refused, named as a null, not a missing field
        bad = next((k for k in REQUIRED if r[k] is None or r[k] == ""), None)
        if bad is None:
            usable.append((where, r))
            continue
        theirs = mapping.get(bad, bad)
        refused.append({"where": where, "doc": str(r.get("doc_id")), "field": theirs,
                        "reason": f"{theirs} is {'null' if r[bad] is None else 'empty'}"})
    rows = usable
    names = sorted({str(r["doc_id"]) for _, r in rows})
    ids: dict[str, str] = {}
    numbering: dict[str, list[int] | None] = {}
    pdfs, image_docs, missing = [], {}, []
    for n in names:
        pdf, folder = docs_dir / n, docs_dir / Path(n).stem
        if not pdf.is_file() and (docs_dir / f"{n}.pdf").is_file():
            pdf = docs_dir / f"{n}.pdf"
        if pdf.is_file():
            ids[n] = sha256_file(pdf)
            pdfs.append(str(pdf))
            numbering[n] = None
        elif folder.is_dir():
            doc_id, pages, nums = _image_doc(folder)
            image_docs[n] = (doc_id, pages)
            ids[n], numbering[n] = doc_id, nums
        else:
            missing.append(n)
    if missing:
        raise FileNotFoundError(f"{len(missing)} documents not under {docs_dir}: {missing[:3]}")
    if pdfs:
        from ..corpus.ingest import IngestConfig, ingest
        ingest(pdfs, store, IngestConfig(workers=workers, progress=progress))
    have = set(PageStore(store).doc_ids()) if storage.isdir(storage.join(store, "docs")) else set()
    new_images = {n: v for n, v in image_docs.items() if v[0] not in have}
    if new_images:  # written beside ingest's parts: held like ingest holds the store (one writer at a time)
        from ..run.outdir import claim

        with claim(store, "page-store", "eval import-mmlongbench"):
            _write_image_docs(store, new_images)
    ps = PageStore(store)
    n_pages = {r["doc_id"]: int(r["n_pages"]) for r in ps.docs_table().to_pylist() if r.get("status") == "ok"}
    items: list[QAItem] = []
    skipped = renumbered = 0
    bases = {n: file_base(nums, pre.file_base, base) for n, nums in numbering.items() if nums is not None}
    for where, r in rows:
        name = str(r["doc_id"])
        doc_id = ids[name]
        if doc_id not in n_pages:  # the ingester refused it (corrupt, too few pages, ...): recorded in its docs
            skipped += 1
            continue
        field = mapping.get("answer_format", "answer_format")
        try:
            if pre.answer_types == "slidevqa":
                fmt = slidevqa_format(r["answer"], r.get("answer_format"))
            else:
                fmt = normalize_format(r.get("answer_format"))
            field = mapping.get("evidence_pages", "evidence_pages")
            raw = page_list(_as_list(r.get("evidence_pages")), field, shown=r.get("evidence_pages"))
        except ValueError as e:
            msg = str(e)
            refused.append({"where": where, "doc": name, "field": field,
                            "reason": msg if msg.startswith(field) else f"{field}: {msg}"})
            continue
        answer = _answer(r["answer"], fmt)
        why = check_gold(answer, fmt)
        nums = numbering[name]
        if nums is not None:   # evidence page p is the file numbered p - base + (its first page's number)
            fb, how = bases[name]
            pages = [nums.index(p - base + fb) if p - base + fb in nums else -1 for p in raw]
            renumbered += bool(raw) and fb != base
        else:
            pages = [p - base for p in raw]
        bad = [p for p, q in zip(raw, pages) if not 0 <= q < n_pages[doc_id]]
        if bad and why is None:
            why = (f"evidence page(s) {bad} outside the document ({n_pages[doc_id]} pages"
                   + (f"; page files {nums[0]}-{nums[-1]}, numbered {how}, evidence numbered from {base}" if nums
                      else f", numbered from {base}") + ")")
        if why is not None:
            refused.append({"where": where, "doc": name, "reason": why})
            continue
        items.append(item_from_row({
            "doc_id": doc_id, "question": r["question"], "answer": answer, "answer_format": fmt,
            "evidence_pages": pages, "evidence_sources": [str(s) for s in _as_list(r.get("evidence_sources"))],
            "dataset": r.get("dataset") or ds_name}, ds_name))
    order = {where: k for k, (where, _) in enumerate(all_rows)}
    refused.sort(key=lambda x: order.get(x["where"], 0))   # in file order, whichever check refused them
    out = storage.normalize(out)
    if storage.is_local(out):
        storage.local_path(out).parent.mkdir(parents=True, exist_ok=True)
    storage.write_text(out, "".join(json.dumps(asdict(i), ensure_ascii=False) + "\n" for i in items))
    rej = out + ".refused.jsonl"
    if refused:
        storage.write_text(rej, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in refused))
        for x in refused[:20]:
            log.warning("refused %s: %s", x["where"], x["reason"])
    else:
        storage.remove(rej)
    added = add_to_exclusion(exclusion, set(ids.values())) if exclusion else 0
    file_numbering = dict(sorted(Counter(how for _, how in bases.values()).items()))
    if renumbered:
        log.warning("%d items: evidence pages numbered from %d mapped to page files numbered otherwise (%s)",
                    renumbered, base, ", ".join(f"{v} documents {k}" for k, v in file_numbering.items()))
    return {"qa": len(items), "skipped": skipped, "refused": refused, "documents": len(ids), "pdfs": len(pdfs),
            "image_documents": len(image_docs), "exclusion_added": added, "preset": preset, "pages_base": base,
            "file_numbering": file_numbering, "items_renumbered": renumbered}
