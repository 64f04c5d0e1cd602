"""How long are the documents of a page store for a model: exact tokens per page and per document, a summary of
how many documents fit each context length, a histogram, and per-document CSV/Parquet.

A document's length is that of its full-document chat sample in the dataset's own layout
(`layout.training_messages`, the layout training assembly uses: "Page N:" and the page image for every page, then
an empty question and an empty answer), counted by the one TokenCounter, so the numbers are what training and
evaluation will see.
A page's length is what it adds to a sample: its image tokens (stored JPEG size, the model's resize rule), the
image's wrap tokens and its "Page N:" marker; samples carry page images only, so the text layer is counted apart
(`text_layer_tokens`: what an OCR transcription target costs).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..corpus.store import Document, PageStore
from ..layout import page_marker, training_messages
from .counter import TokenCounter, image_wrap_tokens

# Context lengths the summary counts fitting documents for, and the histogram marks.
CONTEXTS = {"32K": 32 * 1024, "64K": 64 * 1024, "128K": 128 * 1024, "256K": 256 * 1024}

# Columns of tokens_docs.csv / tokens_docs.parquet, one row per document.
DOC_SCHEMA = pa.schema([("doc_id", pa.string()), ("source", pa.string()), ("title", pa.string()),
                        ("n_pages", pa.int32()), ("tokens", pa.int64()), ("image_tokens", pa.int64()),
                        ("text_layer_tokens", pa.int64()), ("median_page_tokens", pa.float64())]
                       + [(f"fits_{k}", pa.bool_()) for k in CONTEXTS])


@dataclass
class DocTokens:
    doc_id: str
    source: str
    title: str
    n_pages: int
    tokens: int                  # the full-document chat sample
    image_tokens: int            # of which image tokens
    text_layer_tokens: int       # tokens of all pages' text layers (what an OCR target costs)
    page_image_tokens: list[int] = field(default_factory=list)
    page_text_tokens: list[int] = field(default_factory=list)
    page_sample_tokens: list[int] = field(default_factory=list)   # image + wrap + page marker: a page in a sample

    def row(self) -> dict:
        d = asdict(self)
        del d["page_image_tokens"], d["page_text_tokens"], d["page_sample_tokens"]
        pages = self.page_sample_tokens
        d["median_page_tokens"] = statistics.median(pages) if pages else 0
        d.update({f"fits_{k}": self.tokens <= v for k, v in CONTEXTS.items()})
        return d


def count_document(doc: Document, counter: TokenCounter, max_pixels: int | None = None) -> DocTokens:
    """Exact token lengths of one document for `counter`'s model (`max_pixels` lowers the pixel bound)."""
    img = [counter.image_tokens(int(p["image_width"]), int(p["image_height"]), max_pixels) for p in doc.pages]
    txt = counter.count_texts([p.get("text") or "" for p in doc.pages])
    wrap = image_wrap_tokens(counter)
    markers = counter.count_texts([page_marker(i) for i in range(len(doc.pages))])
    msgs = training_messages([{"page": i, "width": int(p["image_width"]), "height": int(p["image_height"])}
                              for i, p in enumerate(doc.pages)], question="", target="", max_pixels=max_pixels)
    total = counter.count_messages(msgs, max_pixels=max_pixels)
    return DocTokens(doc.doc_id, doc.source, doc.title, len(doc.pages), total.total, total.image_tokens, sum(txt),
                     img, txt, [i + wrap + m for i, m in zip(img, markers)])


@dataclass
class TokenReport:
    model: str
    max_pixels: int
    store: str
    docs: list[DocTokens]

    def page_tokens(self) -> list[int]:
        """What each page adds to a sample (image, wrap and marker tokens; not its text layer)."""
        return [t for d in self.docs for t in d.page_sample_tokens]

    def summary(self) -> dict:
        """The numbers the CLI prints and tokens.md starts with."""
        pages = self.page_tokens()
        docs = [d.tokens for d in self.docs]
        s = {"model": self.model, "max_pixels": self.max_pixels, "docs": len(self.docs),
             "pages": sum(d.n_pages for d in self.docs),
             "page_tokens_median": _q(pages, 0.5), "page_tokens_p90": _q(pages, 0.9),
             "page_image_tokens_median": _q([t for d in self.docs for t in d.page_image_tokens], 0.5),
             "page_text_tokens_median": _q([t for d in self.docs for t in d.page_text_tokens], 0.5),
             "doc_tokens_median": _q(docs, 0.5), "doc_tokens_p90": _q(docs, 0.9),
             "doc_tokens_max": max(docs, default=0), "tokens_total": sum(docs)}
        s.update({f"fit_{k}": sum(1 for t in docs if t <= v) for k, v in CONTEXTS.items()})
        return s


def _q(values: list[int], q: float) -> float:
    return float(np.percentile(values, 100 * q)) if values else 0.0


def token_report(store: str | Path, counter: TokenCounter, max_pixels: int | None = None,
                 progress: bool = True) -> TokenReport:
    """Count every ok document of the store (images are not read: stored sizes suffice)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    ps = PageStore(store)
    n = len(ps.doc_ids())
    docs = []
    with Progress(TextColumn("[bold]tokens"), BarColumn(), MofNCompleteColumn(), TextColumn("docs"),
                  TimeElapsedColumn(), disable=not progress) as bar:
        task = bar.add_task("tokens", total=n)
        for doc in ps.iter_documents(with_images=False):
            docs.append(count_document(doc, counter, max_pixels))
            bar.advance(task)
    mp = counter.max_pixels if max_pixels is None else int(max_pixels)
    return TokenReport(counter.name, mp, str(store), docs)


def write_report(report: TokenReport, out_dir: str | Path) -> dict[str, Path]:
    """OUT/tokens.md, OUT/tokens_hist.png, OUT/tokens_docs.csv and OUT/tokens_docs.parquet."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [d.row() for d in report.docs]
    table = pa.Table.from_pylist(rows, schema=DOC_SCHEMA)
    paths = {"md": out / "tokens.md", "png": out / "tokens_hist.png", "csv": out / "tokens_docs.csv",
             "parquet": out / "tokens_docs.parquet"}
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(table, paths["csv"])
    _plot(report, paths["png"])
    paths["md"].write_text(_markdown(report))
    return paths


def summary_rows(report: TokenReport) -> list[tuple[str, str]]:
    """(label, value) pairs for the one-screen summary and the markdown table."""
    s = report.summary()
    n = s["docs"]
    rows = [("model", f"{s['model']} (max_pixels {s['max_pixels']:,})"), ("documents", f"{n:,}"),
            ("pages", f"{s['pages']:,}"),
            ("tokens per page in a sample, median / p90",
             f"{s['page_tokens_median']:,.0f} / {s['page_tokens_p90']:,.0f}"),
            ("page image tokens, median; text layer (not in samples), median",
             f"{s['page_image_tokens_median']:,.0f}; {s['page_text_tokens_median']:,.0f}"),
            ("tokens per document, median / p90", f"{s['doc_tokens_median']:,.0f} / {s['doc_tokens_p90']:,.0f}"),
            ("longest document", f"{s['doc_tokens_max']:,}"), ("all documents", f"{s['tokens_total']:,}")]
    rows += [(f"documents within {k}", f"{s[f'fit_{k}']:,} of {n:,}") for k in CONTEXTS]
    return rows


def file_name(d: DocTokens) -> str:
    """How a report names a document: its file name, which the user can find on disk. The title is secondary: it is
    read from the PDF's metadata or guessed from its first page (a package manual's title page can give a person's
    name)."""
    return d.source.rstrip("/").rsplit("/", 1)[-1] or d.doc_id


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "/")


def _markdown(report: TokenReport) -> str:
    lines = [f"# Token lengths of {report.store}", "",
             "Exact counts by the TokenCounter. A document is counted as its full-document chat sample "
             "(\"Page N:\" and the image of every page, empty question and answer); a page as what it adds to a "
             "sample: image tokens, image wrap and page marker (samples carry no text layer).", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(report)]
    lines += ["", "![tokens per document](tokens_hist.png)", "", "## Longest documents", "",
              "| file | title | pages | tokens | image tokens | text-layer tokens |",
              "|---|---|---:|---:|---:|---:|"]
    for d in sorted(report.docs, key=lambda d: -d.tokens)[:20]:
        lines.append(f"| {_cell(file_name(d))} | {_cell(d.title) or '-'} | {d.n_pages} | {d.tokens:,} | "
                     f"{d.image_tokens:,} | {d.text_layer_tokens:,} |")
    return "\n".join(lines) + "\n"


def _plot(report: TokenReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    tokens = [d.tokens for d in report.docs]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if tokens:
        ax.hist([t / 1024 for t in tokens], bins=min(40, max(5, len(tokens) // 2)), color="#4a7ab5",
                edgecolor="white")
    for (name, v), color in zip(CONTEXTS.items(), ("#2ca02c", "#ff7f0e", "#d62728", "#9467bd")):
        if name != "256K" or (tokens and max(tokens) > 128 * 1024):
            ax.axvline(v / 1024, color=color, linestyle="--", linewidth=1.2, label=name)
    ax.set_xlabel("tokens per document (K = 1,024)")
    ax.set_ylabel("documents")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{report.model}, max_pixels {report.max_pixels:,}: {len(tokens)} documents")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
