"""A store's ingest report: STORE/report.md with STORE/report.png beside it (outcomes, document lengths, sections).

Made from the docs table alone (no page images read), so it is cheap to rewrite after every run or resume.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from .. import storage
from .store import PageStore


def write_report(root: str | Path) -> tuple[Path | str, Path | str]:
    """Write report.md and report.png into the store folder (or URL); return their paths (URLs)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    store = PageStore(root)
    rows = store.docs_table(columns=["status", "n_pages", "sections_from", "seconds", "error"],
                            ok_only=False).to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    status = Counter(r["status"] for r in rows)
    sections = Counter(r["sections_from"] for r in ok)
    lengths = [r["n_pages"] for r in ok]
    pages = sum(lengths)
    busy = sum(r["seconds"] or 0.0 for r in ok)

    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    names = sorted(status, key=lambda s: (s != "ok", s))
    ax[0].barh(names, [status[n] for n in names], color=["#4a7ab5" if n == "ok" else "#c0504d" for n in names])
    ax[0].invert_yaxis()
    ax[0].set_title("documents by outcome")
    ax[1].hist(lengths or [0], bins=min(40, max(5, len(set(lengths)))), color="#4a7ab5")
    ax[1].set_title("pages per ok document")
    ax[1].set_xlabel("pages")
    ax[2].bar(list(sections), list(sections.values()), color="#8064a2")
    ax[2].set_title("where sections came from (ok docs)")
    ax[0].xaxis.get_major_locator().set_params(integer=True)
    for a in ax[1:]:
        a.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    url = storage.normalize(root)
    png = storage.join(url, "report.png")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    storage.write_bytes(png, buf.getvalue())

    lines = ["# Ingest report", "", f"Store: `{url}`. Settings and versions: `manifest.json`.", "",
             "| outcome | documents |", "| --- | ---: |"]
    lines += [f"| {n} | {status[n]:,} |" for n in names]
    lines += ["", f"- ok documents: {len(ok):,}; pages: {pages:,}"]
    if lengths:
        lines.append(f"- pages per document: median {statistics.median(lengths):g}, min {min(lengths)}, "
                     f"max {max(lengths)}")
    if busy > 0:
        lines.append(f"- rendering rate per worker: {pages / busy:.1f} pages/s")
    lines.append("- sections from: " + ", ".join(f"{k} {v:,}" for k, v in sorted(sections.items())))
    src = Counter(s or "layer" for s in store.pages_dataset().to_table(columns=["text_source"],
                                                                      use_threads=store.threads)
                  .column("text_source").to_pylist())
    if src:
        lines.append("- page text from: " + ", ".join(f"{k} {v:,}" for k, v in sorted(src.items()))
                     + " (ocr: pages without a usable text layer, `--ocr`)")
    errors = Counter(r["error"].split(":")[0] for r in rows if r["status"] != "ok" and r["error"])
    if errors:
        lines += ["", "Most common failure messages:", ""]
        lines += [f"- {n:,} x {msg}" for msg, n in errors.most_common(8)]
    lines += ["", "![ingest report](report.png)", ""]
    md = storage.join(url, "report.md")
    storage.write_text(md, "\n".join(lines))
    if storage.is_local(url):
        return Path(md), Path(png)
    return md, png
