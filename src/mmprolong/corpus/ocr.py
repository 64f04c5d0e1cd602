"""OCR for pages without a usable text layer (scans), at ingest: `--ocr auto|off|force`.

- auto (default): OCR a scanned page: its text layer is empty or unusable (`text_usable`) and its content is
  essentially a raster image (`pdf.looks_scanned`, from the page's own objects). A born-digital page of vector
  figures, or of small images and little text, is not OCR'd: OCR finds nothing its layer lacks, at up to seconds a
  page (tesseract on a dense figure page: 23 s). Keep the layer otherwise.
- off: never OCR; a scanned page keeps its empty text.
- force: OCR every page (e.g. a text layer known to be wrong).

The page store records where each page's text came from in `text_source`: "layer" (pdfium's text layer), "ocr", or
"none": the page needed OCR and Tesseract was not confident of it (a figure, a photo, a drawing read as noise), so
it keeps no text rather than noise. Tesseract's text keeps only the words it is confident of (`MIN_CONFIDENCE`, from
its per-word confidences, `image_to_data`), and a page where too few words are confident (`MIN_CONFIDENT_SHARE`)
is noise. Every text check of synthesis and the OCR-task targets read the page's `text`, whichever its source;
verification reports an item whose evidence page has no trustworthy text as `unchecked_by_rules`.

Engines (both install from the package registries and run offline on CPU; bench/ocr.py measured them on rendered
born-digital pages against their text layer, see bench/results/ocr.md):

- "tesseract" (default): Tesseract 5 through pytesseract; the `tesseract` binary comes from Debian
  (`apt-get install tesseract-ocr`, which `make install` runs when it is missing).
- "rapidocr": RapidOCR (PP-OCRv4 ONNX models shipped in the rapidocr-onnxruntime wheel) on onnxruntime.

An engine is built once per process (workers are processes; each engine uses one thread, so N workers use N cores).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil

from PIL import Image

log = logging.getLogger(__name__)

OCR_MODES = ("auto", "off", "force")
ENGINES = ("tesseract", "rapidocr")
DEFAULT_ENGINE = "tesseract"
TEXT_SOURCES = ("layer", "ocr", "none")
MIN_CONFIDENCE = 60        # Tesseract word confidence (0-100) a kept word needs
MIN_CONFIDENT_SHARE = 0.6  # ... and the share of a page's words that must reach it, else the page is noise

_WORD = re.compile(r"[^\W\d_]{2,}")


def text_usable(text: str | None, min_words: int = 3) -> bool:
    """Whether a text layer is worth keeping: at least `min_words` words of two or more letters, and mostly
    ordinary characters (a layer of replacement / private-use glyph codes, as broken font encodings give, is not)."""
    t = (text or "").strip()
    if len(_WORD.findall(t)) < min_words:
        return False
    odd = sum(1 for ch in t if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff" or (not ch.isprintable() and ch not in
                                                                               "\n\t"))
    return odd <= 0.1 * len(t)


def needs_ocr(text: str | None, mode: str) -> bool:
    if mode not in OCR_MODES:
        raise ValueError(f"ocr: {mode!r} is not one of {', '.join(OCR_MODES)}")
    return mode == "force" or (mode == "auto" and not text_usable(text))


def available(engine: str = DEFAULT_ENGINE) -> bool:
    """Whether `engine` can run here (its package imports; for tesseract, the binary is on PATH)."""
    try:
        if engine == "tesseract":
            import pytesseract  # noqa: F401

            return shutil.which("tesseract") is not None
        if engine == "rapidocr":
            import rapidocr_onnxruntime  # noqa: F401

            return True
    except ImportError:
        return False
    raise ValueError(f"unknown OCR engine {engine!r}; one of {', '.join(ENGINES)}")


@functools.lru_cache(maxsize=4)
def _available_cached(engine: str) -> bool:
    return available(engine)


@functools.lru_cache(maxsize=2)
def _rapidocr():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def _lines_from_boxes(result) -> str:
    """RapidOCR boxes -> text lines: boxes whose vertical centres fall inside a line's span join it, left to right."""
    boxes = []
    for pts, text, _score in result or []:
        ys, xs = [p[1] for p in pts], [p[0] for p in pts]
        boxes.append((min(ys), max(ys), min(xs), text))
    boxes.sort()
    lines: list[list] = []
    for top, bottom, left, text in boxes:
        mid = (top + bottom) / 2
        if lines and lines[-1][0] <= mid <= lines[-1][1]:
            lines[-1][2].append((left, text))
            lines[-1][1] = max(lines[-1][1], bottom)
        else:
            lines.append([top, bottom, [(left, text)]])
    return "\n".join(" ".join(t for _, t in sorted(parts)) for _, _, parts in lines)


def ocr_image(image: Image.Image | bytes, engine: str = DEFAULT_ENGINE) -> str:
    """The text of one page image (a PIL image or encoded bytes), lines separated by "\\n"."""
    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    image = image.convert("RGB")
    if engine == "tesseract":
        import pytesseract

        os.environ.setdefault("OMP_THREAD_LIMIT", "1")   # one core per worker process
        data = pytesseract.image_to_data(image, lang="eng", config="--oem 1 --psm 3",
                                         output_type=pytesseract.Output.DICT)
        return confident_text(data)
    if engine == "rapidocr":
        import numpy as np

        result, _ = _rapidocr()(np.asarray(image)[:, :, ::-1].copy())   # RapidOCR takes BGR like OpenCV
        return _lines_from_boxes(result)
    raise ValueError(f"unknown OCR engine {engine!r}; one of {', '.join(ENGINES)}")


def confident_text(data: dict, min_conf: float = MIN_CONFIDENCE, min_share: float = MIN_CONFIDENT_SHARE) -> str:
    """Tesseract's `image_to_data` words -> text lines of the words it is confident of; "" when the page is noise
    (fewer than three confident words of letters, or under `min_share` of its words confident)."""
    lines: dict[tuple, list[str]] = {}
    n_words = n_kept = 0
    for i, word in enumerate(data.get("text", [])):
        word = (word or "").strip()
        if not word:
            continue
        n_words += 1
        try:
            conf = float(data["conf"][i])
        except (TypeError, ValueError):
            conf = -1.0
        if conf < min_conf:
            continue
        n_kept += 1
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
    text = "\n".join(" ".join(ws) for _, ws in sorted(lines.items()))
    if not n_words or n_kept < min_share * n_words or len(_WORD.findall(text)) < 3:
        return ""
    return text


def check_engine(mode: str, engine: str = DEFAULT_ENGINE) -> None:
    """Before an ingest: `force` needs the engine; `auto` without it warns (scanned pages then keep no text)."""
    if mode == "off" or available(engine):
        return
    msg = (f"OCR engine {engine} is not available (pip install pytesseract; apt-get install tesseract-ocr)"
           if engine == "tesseract" else f"OCR engine {engine} is not available (pip install rapidocr-onnxruntime)")
    if mode == "force":
        raise ValueError(f"ocr: {msg}")
    log.warning("%s: pages without a usable text layer keep their (empty) text", msg)


def apply_ocr(row: dict, mode: str, engine: str = DEFAULT_ENGINE, scan: bool | None = None) -> dict:
    """Give a PAGES row its `text_source`, OCR-ing its JPEG first when `mode` asks for it (see `needs_ocr`; in
    `auto` mode only a page that `scan` says is scanned, when given: ingest decides it from the page's objects).
    OCR with no confident text leaves a page whose layer is unusable with no text and source "none" (a usable
    layer, under `force`, is kept); a page in `auto` mode keeps its layer when the engine is not installed
    (check_engine warned)."""
    row.setdefault("text_source", "layer")
    if mode == "auto" and scan is False:
        return row
    if not needs_ocr(row.get("text"), mode) or (mode == "auto" and not _available_cached(engine)):
        return row
    text = ocr_image(row["image"], engine)
    if text.strip():
        row["text"], row["text_source"] = text, "ocr"
    elif not text_usable(row.get("text")):
        row["text"], row["text_source"] = "", "none"
    return row
