"""Near-duplicate detection (corpus/neardup.py) on real PDFs: which pairs it joins, and how long signing takes.

    python bench/dedup.py PDF ... [--threshold 0.8]

Prints a markdown table (and writes bench/results/dedup.md): each near-duplicate with the kept document and the
estimated Jaccard similarity, plus the true Jaccard of the shingle sets for checking the estimate.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmprolong.corpus import neardup

ROOT = Path(__file__).resolve().parent.parent


def _shingles(texts):
    words = [w for t in texts for w in neardup._WORD.findall((t or "").lower())]
    return {" ".join(words[i:i + neardup.SHINGLE]) for i in range(max(0, len(words) - neardup.SHINGLE + 1))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pdfs", nargs="+", type=Path)
    ap.add_argument("--threshold", type=float, default=neardup.THRESHOLD)
    a = ap.parse_args()
    t0 = time.perf_counter()
    texts = {p.name: neardup.pdf_texts(p) for p in a.pdfs}
    t_text = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = neardup.find_near_duplicates([(n, len(t), t) for n, t in texts.items()], a.threshold)
    t_sig = time.perf_counter() - t0
    pages = sum(len(t) for t in texts.values())
    lines = [f"# Near-duplicate documents on real PDFs (threshold {a.threshold})", "",
             f"{len(texts)} PDFs, {pages:,} pages; text layer {t_text:.1f} s, MinHash + LSH {t_sig:.2f} s.", "",
             "| document | kept document | estimated Jaccard | true Jaccard |", "|---|---|---|---|"]
    for d in found:
        x, y = _shingles(texts[d.doc_id]), _shingles(texts[d.kept_doc_id])
        lines.append(f"| {d.doc_id} | {d.kept_doc_id} | {d.similarity:.2f} | {len(x & y) / len(x | y):.2f} |")
    lines += ["", "Documents not listed were kept: " + ", ".join(sorted(set(texts) - {d.doc_id for d in found}))]
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results" / "dedup.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
