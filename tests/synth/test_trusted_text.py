"""OCR text is kept only where Tesseract is confident of it: a page of printed words keeps them, a figure whose
OCR is noise keeps no text and is marked `text_source: none`, and an item citing it is unchecked by the rules."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFont

from mmprolong.corpus import ocr

pytestmark = pytest.mark.skipif(not ocr.available("tesseract"), reason="tesseract binary not installed")


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _text_page() -> bytes:
    im = Image.new("RGB", (900, 300), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=28)
    for i, line in enumerate(["The build farm compiled 1,250 packages in 2021.",
                              "The scheduler runs eight worker threads per core."]):
        d.text((30, 40 + 60 * i), line, fill="black", font=font)
    return _jpeg(im)


def _noise_page() -> bytes:
    """Print too coarse to read (a scan of a thumbnail), salted: Tesseract still guesses words, unsure of each."""
    rng = random.Random(1)
    im = Image.new("L", (900, 300), 255)
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=28)
    for i, line in enumerate(["The build farm compiled 1,250 packages in 2021.",
                              "The scheduler runs eight worker threads per core.",
                              "Throughput rose by a third after the upgrade."]):
        d.text((30, 30 + 60 * i), line, fill=0, font=font)
    im = im.resize((180, 60), Image.BILINEAR).resize((900, 300), Image.NEAREST)
    px = im.load()
    for _ in range(6000):
        px[rng.randrange(900), rng.randrange(300)] = rng.choice([0, 255])
    return _jpeg(im.convert("RGB"))


def test_printed_words_are_kept():
    text = ocr.ocr_image(_text_page())
    assert "packages" in text and "scheduler" in text


def test_noise_keeps_no_text_and_is_marked_none():
    import pytesseract

    page = _noise_page()
    assert pytesseract.image_to_string(Image.open(io.BytesIO(page))).strip()   # the engine does output words
    row = ocr.apply_ocr({"text": "", "image": page}, "auto")
    assert row["text"] == "" and row["text_source"] == "none"


def test_low_confidence_words_are_dropped():
    data = {"text": ["Widget", "Toolkit", "Manual", "x%#", "lll"], "conf": [96, 91, 88, 12, 30],
            "block_num": [1] * 5, "par_num": [1] * 5, "line_num": [1, 1, 1, 2, 2]}
    assert ocr.confident_text(data) == "Widget Toolkit Manual"
    noisy = dict(data, conf=[96, 20, 20, 12, 30])   # most words unsure: the page is noise
    assert ocr.confident_text(noisy) == ""
