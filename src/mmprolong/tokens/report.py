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
from types import SimpleNamespace

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
class PartCount:
    """One docs part counted: its ok documents' rows (DOC_SCHEMA, store order) and value counts of the per-page
    numbers (np.bincount: index = tokens), from which exact medians and percentiles come."""

    rows: pa.Table
    page_sample: np.ndarray
    page_image: np.ndarray
    page_text: np.ndarray


@dataclass(frozen=True)
class PartTask:
    store: str
    docs_file: str
    model: str                     # preset or model folder: `tokens.load`, once per worker process
    counter_pixels: tuple[int, int]   # the counter's (min_pixels, max_pixels)
    max_pixels: int | None
    text_layer: bool


_COUNTERS: dict[tuple, TokenCounter] = {}


def _counter(task: PartTask) -> TokenCounter:
    key = (task.model, task.counter_pixels)
    if key not in _COUNTERS:
        from .loader import load

        _COUNTERS[key] = load(task.model, min_pixels=task.counter_pixels[0], max_pixels=task.counter_pixels[1])
    return _COUNTERS[key]


def _bincount(values: np.ndarray) -> np.ndarray:
    return np.bincount(values.astype(np.int64), minlength=1) if len(values) else np.zeros(1, np.int64)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) < len(b):
        a, b = b, a
    a = a.copy()
    a[:len(b)] += b
    return a


def count_part(task: PartTask) -> PartCount:
    """Count the ok documents of one docs part (the unit of work a worker gets): sample and image tokens from the
    rows' page-size summaries; the text layer, when asked, from the pages' text column (the only pages read)."""
    counter = _counter(task)
    store = PageStore(task.store)
    wrap = image_wrap_tokens(counter)
    empty = counter.count_messages(training_messages([], question="", target="", max_pixels=task.max_pixels)).total
    image_cost: dict[int, int] = {}
    marker_cost = np.zeros(0, np.int64)
    tables, hists = [], [np.zeros(1, np.int64)] * 3
    docs = store.iter_documents(with_images=False, columns=["doc_id", "page", "text"], docs_files=[task.docs_file]) \
        if task.text_layer else None
    for batch in store.iter_summaries(("doc_id", "source", "title"), files=[task.docs_file]):
        sizes = batch.column(batch.schema.get_field_index("page_sizes"))
        offsets = np.asarray(sizes.offsets, np.int64)
        offsets = offsets - offsets[0]
        w, h, k = (np.asarray(a, np.int64) for a in sizes.flatten().flatten())
        keys = (w << 32) | h
        uniq, inverse = np.unique(keys, return_inverse=True)
        for key in uniq.tolist():
            if key not in image_cost:
                image_cost[key] = counter.image_tokens(key >> 32, key & 0xFFFFFFFF, task.max_pixels)
        run_cost = np.array([image_cost[key] for key in uniq.tolist()], np.int64)[inverse]
        ck = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
        n = ck[offsets[1:]] - ck[offsets[:-1]]
        img = np.repeat(run_cost, k)                                   # per page, in page order
        doc_of_page = np.repeat(np.arange(len(n)), n)
        first_page = np.concatenate([[0], np.cumsum(n)])[:-1]
        page_no = np.arange(len(img)) - first_page[doc_of_page]
        top = int(page_no.max(initial=-1)) + 1
        if top > len(marker_cost):
            marker_cost = np.concatenate([marker_cost, np.array(
                counter.count_texts([page_marker(p) for p in range(len(marker_cost), top)]), np.int64)])
        sample = img + wrap + marker_cost[page_no]
        cum = lambda v: np.concatenate([[0], np.cumsum(v)])           # noqa: E731
        bounds = np.concatenate([[0], np.cumsum(n)])
        image_tokens = cum(img)[bounds[1:]] - cum(img)[bounds[:-1]]
        tokens = empty + cum(sample)[bounds[1:]] - cum(sample)[bounds[:-1]]
        order = np.lexsort((sample, doc_of_page))
        ss = sample[order]
        lo_i, hi_i = bounds[:-1] + (n - 1) // 2, bounds[:-1] + n // 2
        median = np.where(n > 0, (ss[np.minimum(lo_i, len(ss) - 1)] + ss[np.minimum(hi_i, len(ss) - 1)]) / 2
                          if len(ss) else 0.0, 0.0)
        text = np.zeros(len(n), np.int64)
        page_text: list[int] = []
        if docs is not None:
            for j, doc_id in enumerate(batch.column(0).to_pylist()):   # the same rows, in the same order
                doc = next(docs)
                if doc.doc_id != doc_id:
                    raise RuntimeError(f"{task.docs_file}: pages of {doc.doc_id} where {doc_id} was expected")
                t = counter.count_texts([p.get("text") or "" for p in doc.pages])
                page_text.extend(t)
                text[j] = sum(t)
        cols = {"doc_id": batch.column(0), "source": batch.column(1), "title": batch.column(2),
                "n_pages": pa.array(n, pa.int32()), "tokens": pa.array(tokens, pa.int64()),
                "image_tokens": pa.array(image_tokens, pa.int64()), "text_layer_tokens": pa.array(text, pa.int64()),
                "median_page_tokens": pa.array(median, pa.float64())}
        cols.update({f"fits_{c}": pa.array(tokens <= v, pa.bool_()) for c, v in CONTEXTS.items()})
        tables.append(pa.Table.from_pydict(cols, schema=DOC_SCHEMA))
        hists = [_add(hists[0], _bincount(sample)), _add(hists[1], _bincount(img)),
                 _add(hists[2], _bincount(np.asarray(page_text, np.int64)))]
    rows = pa.concat_tables(tables) if tables else DOC_SCHEMA.empty_table()
    return PartCount(rows, *hists)


@dataclass
class TokenReport:
    """Counts of a whole store, held compactly: per-document numbers in one Arrow table (or streamed to
    `rows_path`), per-page numbers as value counts, the document lengths as one numpy array."""

    model: str
    max_pixels: int
    store: str
    doc_tokens: np.ndarray                       # per document, store order
    page_sample: np.ndarray                      # value counts: what each page adds to a sample
    page_image: np.ndarray                       # value counts: page image tokens
    page_text: np.ndarray                        # value counts: page text-layer tokens (empty without them)
    n_pages: int
    longest: list[dict]                          # the 20 longest documents' rows, longest first
    rows: pa.Table | None = None                 # per-document rows (DOC_SCHEMA) when not streamed to a file
    rows_path: Path | None = None                # ... or the Parquet file they were streamed to
    text_layer: bool = True

    def doc_rows(self) -> pa.Table:
        """The per-document rows (DOC_SCHEMA), in store order."""
        if self.rows is not None:
            return self.rows
        import pyarrow.parquet as pq

        return pq.read_table(self.rows_path)

    def summary(self) -> dict:
        """The numbers the CLI prints and tokens.md starts with."""
        docs = self.doc_tokens
        s = {"model": self.model, "max_pixels": self.max_pixels, "docs": len(docs), "pages": self.n_pages,
             "page_tokens_median": _hq(self.page_sample, 0.5), "page_tokens_p90": _hq(self.page_sample, 0.9),
             "page_image_tokens_median": _hq(self.page_image, 0.5),
             "page_text_tokens_median": _hq(self.page_text, 0.5),
             "doc_tokens_median": _q(docs, 0.5), "doc_tokens_p90": _q(docs, 0.9),
             "doc_tokens_max": int(docs.max(initial=0)), "tokens_total": int(docs.sum())}
        s.update({f"fit_{k}": int((docs <= v).sum()) for k, v in CONTEXTS.items()})
        return s


def _q(values, q: float) -> float:
    return float(np.percentile(values, 100 * q)) if len(values) else 0.0


def _hq(counts: np.ndarray, q: float) -> float:
    """np.percentile's (linear) q-quantile of the values whose counts these are (value = index)."""
    total = int(counts.sum())
    if not total:
        return 0.0
    cum = np.cumsum(counts)
    pos = q * (total - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    v_lo, v_hi = (int(np.searchsorted(cum, r, side="right")) for r in (lo, hi))
    return float(v_lo + (v_hi - v_lo) * (pos - lo))


def token_report(store: str | Path, counter: TokenCounter, max_pixels: int | None = None,
                 progress: bool = True, executor: str = "local", workers: int | None = 1,
                 ray_address: str | None = None, model: str | None = None, out_dir: str | Path | None = None,
                 text_layer: bool = True) -> TokenReport:
    """Count every ok document of the store (images are never read: the docs rows' page-size summaries suffice;
    the pages' text column only for `text_layer`). One task per docs part: in this process (`executor` local
    with one worker), a process pool or Ray (`model`: the preset or folder the workers load, default the
    counter's name). The driver holds one part's rows at a time (rows stream to OUT/tokens_docs.parquet when
    `out_dir` is given) and compact arrays for the summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    ps = PageStore(store)
    files = ps.docs_files()
    tasks = [PartTask(ps.url, f, model or counter.name, (counter.min_pixels, counter.max_pixels), max_pixels,
                      text_layer) for f in files]
    if tasks:
        _COUNTERS[(tasks[0].model, tasks[0].counter_pixels)] = counter     # this process counts with it
    if executor == "local" and (workers or 1) == 1:
        results = ((t, count_part(t)) for t in tasks)
    else:
        from ..run import Failure, map_unordered

        def checked(it):
            for t, r in it:
                if isinstance(r, Failure):
                    raise RuntimeError(f"{t.docs_file}: {r}")
                yield t, r
        results = checked(map_unordered(count_part, tasks, executor=executor, workers=workers,
                                        ray_address=ray_address))
    writer = None
    rows_path = None
    if out_dir is not None:
        import pyarrow.parquet as pq

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        rows_path = Path(out_dir) / "tokens_docs.parquet"
        writer = pq.ParquetWriter(rows_path.with_name(rows_path.name + ".tmp"), DOC_SCHEMA)
    index = {t.docs_file: i for i, t in enumerate(tasks)}
    waiting: dict[int, PartCount] = {}
    nxt = 0
    kept, tokens = [], []
    hists = [np.zeros(1, np.int64)] * 3
    longest = DOC_SCHEMA.empty_table()
    n_pages = 0
    with Progress(TextColumn("[bold]tokens"), BarColumn(), MofNCompleteColumn(), TextColumn("docs parts"),
                  TimeElapsedColumn(), disable=not progress) as bar:
        task = bar.add_task("tokens", total=len(tasks))
        for t, part in results:
            waiting[index[t.docs_file]] = part
            while nxt in waiting:                 # store order: parts are written as they come in order
                part = waiting.pop(nxt)
                nxt += 1
                if writer is not None:
                    writer.write_table(part.rows)
                else:
                    kept.append(part.rows)
                tokens.append(part.rows.column("tokens").to_numpy())
                n_pages += int(pa.compute.sum(part.rows.column("n_pages")).as_py() or 0)
                hists = [_add(hists[0], part.page_sample), _add(hists[1], part.page_image),
                         _add(hists[2], part.page_text)]
                longest = pa.concat_tables([longest, part.rows]).sort_by([("tokens", "descending")]).slice(0, 20)
                bar.advance(task)
    if writer is not None:
        writer.close()
        rows_path.with_name(rows_path.name + ".tmp").replace(rows_path)
    mp = counter.max_pixels if max_pixels is None else int(max_pixels)
    return TokenReport(counter.name, mp, str(store), np.concatenate(tokens) if tokens else np.zeros(0, np.int64),
                       *hists, n_pages=n_pages, longest=longest.to_pylist(),
                       rows=(pa.concat_tables(kept) if kept else DOC_SCHEMA.empty_table()) if writer is None else None,
                       rows_path=rows_path, text_layer=text_layer)


def write_report(report: TokenReport, out_dir: str | Path) -> dict[str, Path]:
    """OUT/tokens.md, OUT/tokens_hist.png, OUT/tokens_docs.csv and OUT/tokens_docs.parquet (the CSV streamed
    from the Parquet file a batch at a time)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "tokens.md", "png": out / "tokens_hist.png", "csv": out / "tokens_docs.csv",
             "parquet": out / "tokens_docs.parquet"}
    if report.rows_path is None or report.rows_path.resolve() != paths["parquet"].resolve():
        pq.write_table(report.doc_rows(), paths["parquet"])
    with pacsv.CSVWriter(paths["csv"], DOC_SCHEMA) as csv_out:
        for batch in pq.ParquetFile(paths["parquet"]).iter_batches(batch_size=65536):
            csv_out.write_batch(batch)
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
    for d in (SimpleNamespace(**r) for r in report.longest):
        lines.append(f"| {_cell(file_name(d))} | {_cell(d.title) or '-'} | {d.n_pages} | {d.tokens:,} | "
                     f"{d.image_tokens:,} | {d.text_layer_tokens:,} |")
    return "\n".join(lines) + "\n"


def _plot(report: TokenReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    tokens = report.doc_tokens.tolist()
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
