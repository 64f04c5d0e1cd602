"""Section starts from the heading heuristic against the PDF outline, on real PDFs that have one.

For every PDF with an outline: the outline's section start pages are the truth; the heuristic (corpus/sections.py,
which ingest uses for PDFs without an outline) runs on the same pages as if there were none. Precision and recall of
start pages (`start_scores`), against every outline entry and against top-level entries only. `--baseline-rev`
also scores the heuristic as it was at that git revision, side by side.

    python bench/sections.py /tmp/pdfs --label "Debian documentation PDFs" --baseline-rev 5b89f9a

Writes bench/results/sections.md and prints it.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium

from mmprolong.corpus import sections as current

ROOT = Path(__file__).resolve().parent.parent


def _module_at(rev: str):
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/mmprolong/corpus/sections.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "sections_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("sections_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _headings(pdf: pdfium.PdfDocument, mods, max_pages: int):
    out = {m.__name__: [] for m in mods}
    for i in range(min(len(pdf), max_pages)):
        page = pdf[i]
        tp = page.get_textpage()
        raw = tp.get_text_range()
        for m in mods:
            out[m.__name__].append(m.page_headings(tp, raw))
        tp.close()
        page.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pdfs", type=Path)
    ap.add_argument("--label", default="")
    ap.add_argument("--baseline-rev", default="")
    ap.add_argument("--max-pages", type=int, default=400)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sections.md")
    a = ap.parse_args()
    mods = [current] + ([_module_at(a.baseline_rev)] if a.baseline_rev else [])
    names = {current.__name__: "now"} | ({mods[1].__name__: f"at {a.baseline_rev}"} if a.baseline_rev else {})
    seen, rows = set(), []
    t0 = time.perf_counter()
    for path in sorted(a.pdfs.rglob("*.pdf")):
        data = path.read_bytes()
        if data in seen:
            continue
        seen.add(data)
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            continue
        n = min(len(pdf), a.max_pages)
        truth = [s for s in current.outline_sections(pdf) if s["first_page"] < n]
        if len({s["first_page"] for s in truth}) < 3:
            pdf.close()
            continue
        heads = _headings(pdf, mods, a.max_pages)
        pdf.close()
        top_level = min(s["level"] for s in truth)
        top = [s for s in truth if s["level"] == top_level]
        row = {"doc": str(path.relative_to(a.pdfs)), "pages": n, "starts": len({s["first_page"] for s in truth})}
        for m in mods:
            found = m.heuristic_sections(heads[m.__name__])
            p, r = current.start_scores(found, truth)
            row[names[m.__name__]] = (p, r, current.start_scores(found, top)[1], len({s["first_page"] for s in found}))
        rows.append(row)
        print(row, file=sys.stderr)
    cols = list(names.values())
    lines = [f"# Section starts: heading heuristic against PDF outlines ({a.label or a.pdfs})", "",
             f"{len(rows)} PDFs with an outline (>= 3 start pages), first {a.max_pages} pages each; "
             f"{time.perf_counter() - t0:.0f} s. A found start is right when an outline entry starts on that page. "
             "Recall (top) counts only the outline's top-level entries.", "",
             "| heuristic | mean precision | median precision | PDFs below 0.5 | mean recall | mean recall (top) |",
             "|---|---|---|---|---|---|"]
    for c in cols:
        ps = [r[c][0] for r in rows]
        rs = [r[c][1] for r in rows]
        ts = [r[c][2] for r in rows]
        lines.append(f"| {c} | {statistics.mean(ps):.2f} | {statistics.median(ps):.2f} | "
                     f"{sum(p < 0.5 for p in ps)} | {statistics.mean(rs):.2f} | {statistics.mean(ts):.2f} |")
    lines += ["", "| PDF | pages | outline starts | " + " | ".join(f"{c}: P / R / R top / found" for c in cols) + " |",
              "|---|---|---|" + "---|" * len(cols)]
    for r in rows:
        lines.append(f"| {r['doc']} | {r['pages']} | {r['starts']} | " + " | ".join(
            f"{r[c][0]:.2f} / {r[c][1]:.2f} / {r[c][2]:.2f} / {r[c][3]}" for c in cols) + " |")
    text = "\n".join(lines) + "\n"
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
