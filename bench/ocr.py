"""OCR engines for scanned pages, measured on born-digital pages rendered as ingest renders them (pdfium at the store's
144 DPI, JPEG q90), against the pages' own text layer.

Accuracy: word recall / precision / F1 of the OCR text against the text layer (words lowercased, punctuation
stripped, compared as multisets; reading order does not count). Speed: pages/s on ONE core (each engine limited to
one thread), JPEG decode included, model loading excluded (timed separately).

    python bench/ocr.py [--pages-per-pdf 6]

Pages: the demo corpus (reportlab, Helvetica) and the two PDF manuals Debian ships in /usr/share/doc (LaTeX and
DocBook typesetting), when present. Writes bench/results/ocr.md.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"

import pypdfium2 as pdfium  # noqa: E402
from PIL import Image  # noqa: E402

from device import cpu_name  # noqa: E402  bench/device.py
from mmprolong.corpus import ocr  # noqa: E402
from mmprolong.corpus.pdf import clean_text  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ocr.md"
DEBIAN_PDFS = [Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
               Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")]


CHOICE = ("Tesseract (`corpus/ocr.py` DEFAULT_ENGINE): far more accurate on printed Latin-script pages (RapidOCR's "
          "PP-OCRv4 models, trained mostly on Chinese, drop the spaces between English words, so whole lines become "
          "one token) and several times faster per core. Its cost: the binary is a Debian package "
          "(tesseract-ocr), which `make install` installs; pytesseract comes from PyPI with the project. RapidOCR "
          "stays available as `ocr_engine=\"rapidocr\"` (pip install rapidocr-onnxruntime; not a dependency).")


def words(text: str) -> Counter:
    return Counter(w for w in re.findall(r"\w+", text.lower()) if len(w) > 1 or w.isdigit())


def prf(pred: str, gold: str) -> tuple[float, float, float, int]:
    p, g = words(pred), words(gold)
    common = sum((p & g).values())
    rec, prec = common / max(1, sum(g.values())), common / max(1, sum(p.values()))
    return rec, prec, 2 * rec * prec / max(rec + prec, 1e-12), sum(g.values())


def pages(pdfs: list[tuple[str, Path]], per_pdf: int, dpi: int = 144) -> list[tuple[str, bytes, str]]:
    out = []
    for label, path in pdfs:
        pdf = pdfium.PdfDocument(str(path))
        taken = 0
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            text = clean_text(tp.get_text_range())
            tp.close()
            if len(words(text)) < 40:   # a page with real text to compare against
                continue
            img = page.render(scale=dpi / 72, rev_byteorder=True, prefer_bgrx=True).to_pil()
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=90)
            out.append((f"{label} p{i + 1}", buf.getvalue(), text))
            taken += 1
            if taken >= per_pdf:
                break
        pdf.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages-per-pdf", type=int, default=4)
    ap.add_argument("--budget-s", type=float, default=240.0,
                    help="stop an engine after this many seconds of OCR (its table row says on how many pages)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    from mmprolong.demo.corpus import write_demo_corpus

    demo = sorted(Path(p) for p in write_demo_corpus(tmp, n_docs=1, pages=(12, 12)) if str(p).endswith(".pdf"))
    srcs = [("demo", demo[0])] + [(p.stem, p) for p in DEBIAN_PDFS if p.exists()]
    sample = pages(srcs, args.pages_per_pdf)
    rows, details = [], []
    for engine in ocr.ENGINES:
        if not ocr.available(engine):
            rows.append(f"| {engine} | not installed | | | | | |")
            continue
        t = time.perf_counter()
        ocr.ocr_image(Image.new("RGB", (64, 64), "white"), engine)   # load the models
        load = time.perf_counter() - t
        scores, secs = [], 0.0
        for name, jpeg, gold in sample:
            if secs > args.budget_s:
                break
            t = time.perf_counter()
            text = ocr.ocr_image(jpeg, engine)
            secs += time.perf_counter() - t
            scores.append(prf(text, gold))
            details.append(f"| {engine} | {name} | {scores[-1][3]} | {scores[-1][0]:.3f} | {scores[-1][1]:.3f} |")
        n_words = sum(s[3] for s in scores)
        rec = sum(s[0] * s[3] for s in scores) / n_words
        prec = sum(s[1] * s[3] for s in scores) / n_words
        f1 = 2 * rec * prec / (rec + prec)
        rows.append(f"| {engine} | {len(scores)} | {rec:.3f} | {prec:.3f} | {f1:.3f} | {len(scores) / secs:.3f} | "
                    f"{load:.1f} |")
        print(rows[-1], flush=True)
    md = "\n".join([
        "# OCR engines (bench/ocr.py)", "",
        f"Device: this project's shared CPU machine ({os.cpu_count()} cores, {cpu_name()}), one thread per engine.",
        f"Pages: {len(sample)} born-digital pages with a text layer ({', '.join(s for s, _ in srcs)}), rendered at "
        "144 DPI to JPEG q90 as ingest stores them; OCR text scored against the text layer (word multisets, "
        "weighted by words per page).", "",
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine): "
        "absolute speeds are several times below an idle core; the ratio between engines is what counts.", "",
        "| engine | pages | word recall | word precision | word F1 | pages/s per core | model load s |",
        "|---|---:|---:|---:|---:|---:|---:|", *rows, "",
        "## Choice", "", CHOICE, "",
        "## Per page", "", "| engine | page | words | recall | precision |", "|---|---|---:|---:|---:|", *details, "",
    ])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(md)
    print(md)


if __name__ == "__main__":
    main()
