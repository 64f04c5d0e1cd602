"""PDFs -> page store. `ingest_document` is the per-document stage (a plain function, run in worker processes);
`ingest` expands the inputs, hashes and filters them in input order, maps the stage with `mmprolong.run`, and
streams results into the store (see `writer` for why a killed run resumes exactly).

Where page bytes go: with `worker_writes` (default for `--executor ray` and for a store on object storage) each
worker writes its document's pages into the document's own pages file on the (shared) store and hands back only the
docs row, so no page passes through the driver, which commits docs rows in batches. Otherwise workers hand back the
pages of documents shorter than `flush_pages` and the driver batches them into parts; longer ones are streamed by
their worker into their own pages file as above. Either way the store holds the same docs rows and the same pages
per document (only `pages_file` / `page_row_groups`, which say where, and `seconds` differ).

Decisions that must not depend on which worker finishes first are taken in the parent, in input order: a file
whose bytes were seen before is recorded "duplicate" of the first, an excluded hash is recorded "excluded"; neither
is ever rendered. Every other outcome (ok, too_few_pages, encrypted, timeout, ...) is one docs row; failure is data.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from typing import TYPE_CHECKING

from .. import __version__, storage
from ..run import PROCESS_EXECUTORS, Failure, default_workers, map_unordered
from .filters import load_exclusions, page_count_status, sha256_file
from .inputs import expand_inputs, printable
from .ocr import ENGINES, OCR_MODES, apply_ocr, check_engine
from .pdf import DEFAULT_MAX_PAGE_PIXELS, PdfError, metadata_title, open_pdf, render_pages
from .sections import first_heading, heuristic_sections, outline_sections

if TYPE_CHECKING:   # the worker processes import this module: pyarrow (writer) and rich load only where used
    from rich.console import Console
    from rich.table import Table

    from .writer import PagesFile

SECTION_MODES = ("auto", "outline", "heuristic", "none")
RETRY_STATUSES = ("error", "timeout")   # transient failures: `--retry-failed` gives them another try
RENDER_KEYS = ("dpi", "jpeg_quality")   # a store holds one rendering; resuming with others is refused


@dataclass
class IngestConfig:
    """Settings of one ingest run. `min_pages`/`max_pages`: the paper keeps 20-200 page documents."""

    dpi: int = 144
    jpeg_quality: int = 90
    min_pages: int = 1
    max_pages: int | None = None
    exclude: list[str] = field(default_factory=list)   # exclusion files (hashes or PDF paths, one a line)
    sections: str = "auto"                             # auto: outline when present, else heuristic
    executor: str = "local"
    workers: int | None = None                         # None: all cores (ray: all the cluster's CPUs)
    ray_address: str | None = None                     # executor "ray": join this cluster, else start a local Ray
    timeout_s: float = 300.0                           # per document
    max_tasks_per_worker: int = 50                     # recycle workers (bounded memory if pdfium leaks)
    flush_pages: int = 256                             # pages buffered before a part file is written
    worker_writes: bool | None = None                  # workers write all pages (None: with ray / a remote store)
    flush_docs: int = 1000                             # docs rows held before they are committed
    max_page_pixels: int | None = DEFAULT_MAX_PAGE_PIXELS  # larger pages are rendered scaled down to this
    max_worker_memory_mb: int | None = 4096            # per worker (local) / per task (ray): beyond, out_of_memory
    retry_failed: bool = False                         # give inputs recorded as error / timeout another try
    progress: bool = True
    ocr: str = "auto"                                  # auto | off | force (corpus/ocr.py)
    ocr_engine: str = "tesseract"                      # corpus/ocr.py ENGINES

    def __post_init__(self):
        checks = {
            "dpi": 18 <= self.dpi <= 600,
            "jpeg_quality": 1 <= self.jpeg_quality <= 100,
            "min_pages": self.min_pages >= 1,
            "max_pages": self.max_pages is None or self.max_pages >= self.min_pages,
            "sections": self.sections in SECTION_MODES,
            "executor": self.executor in PROCESS_EXECUTORS,
            "workers": self.workers is None or self.workers >= 1,
            "timeout_s": self.timeout_s > 0,
            "max_tasks_per_worker": self.max_tasks_per_worker >= 1,
            "flush_pages": self.flush_pages >= 1,
            "flush_docs": self.flush_docs >= 1,
            "ocr": self.ocr in OCR_MODES,
            "ocr_engine": self.ocr_engine in ENGINES,
            "max_page_pixels": self.max_page_pixels is None or self.max_page_pixels >= 10_000,
            "max_worker_memory_mb": self.max_worker_memory_mb is None or self.max_worker_memory_mb >= 256,
        }
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"{key}: invalid value {getattr(self, key)!r}")
        self.exclude = [str(p) for p in self.exclude]

    @classmethod
    def from_dict(cls, d: dict) -> "IngestConfig":
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"{key}: unknown ingest setting; known: {', '.join(sorted(known))}")
        return cls(**d)


@dataclass
class DocTask:
    source: str
    doc_id: str
    file_bytes: int
    config: IngestConfig
    pages_url: str | None = None       # the document's own pages file (writer.PagesFile), used past spill_pages
    spill_pages: int = 0               # pages held in the worker before they go to pages_url (0: all go there)


@dataclass
class DocResult:
    doc: dict                   # schema.DOCS row (with pages_file / page_row_groups when the worker wrote them)
    pages: list[dict]           # schema.PAGES rows, in page order (empty unless "ok" and not written by the worker)


@dataclass
class IngestSummary:
    store: str
    counts: dict[str, int]          # this run, by status
    pages: int                      # pages written by this run
    skipped: int                    # inputs already in the store (resumed run)
    seconds: float
    store_documents: int = 0
    store_pages: int = 0
    waiting: int = 0                # error / timeout rows in the store that --retry-failed would try again

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> dict[str, int]:
        return {k: v for k, v in self.counts.items() if k != "ok"}


def doc_row(source: str, status: str, *, doc_id: str = "", error: str = "", n_pages: int = 0, title: str = "",
            sections: list[dict] | None = None, sections_from: str = "none", file_bytes: int = 0, dpi: int = 0,
            seconds: float = 0.0) -> dict:
    return {"doc_id": doc_id, "source": printable(source), "n_pages": n_pages, "title": title,
            "sections": sections or [], "sections_from": sections_from, "status": status,
            "error": printable(error), "file_bytes": file_bytes,
            "dpi": dpi, "seconds": seconds}


def _choose_sections(mode: str, outline: list[dict], heads) -> tuple[list[dict], str]:
    if mode in ("auto", "outline") and outline:
        return outline, "outline"
    if mode in ("auto", "heuristic"):
        found = heuristic_sections(heads)
        if found:
            return found, "heuristic"
    return [], "none"


_memory_limited = False


def limit_worker_memory(mb: int | None) -> None:
    """Cap this process's data memory (RLIMIT_DATA: heap and anonymous mappings) once, so that a PDF that explodes
    (a Flate bomb, a giant page) fails with MemoryError in this worker, recorded as out_of_memory, instead of
    the kernel's OOM killer taking the machine's memory and other processes with it."""
    global _memory_limited
    if _memory_limited or not mb:
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = mb * 2**20
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    _memory_limited = True


def died_of_memory(failure, cfg: "IngestConfig") -> bool:
    """A local worker that died of SIGABRT while under the memory limit: native code (pdfium) aborts when an
    allocation fails, so this is the limit at work (out_of_memory, final), not a transient error to retry."""
    import re
    import signal

    m = re.search(r"exit code (-?\d+)", failure.error) if failure.kind == "crashed" else None
    return (m is not None and int(m.group(1)) == -signal.SIGABRT and cfg.executor == "local"
            and bool(cfg.max_worker_memory_mb))


def ingest_document(task: DocTask) -> DocResult:
    """Render one PDF into a docs row and its page rows; unreadable or filtered files give a failure row."""
    cfg = task.config
    if cfg.executor == "local":
        limit_worker_memory(cfg.max_worker_memory_mb)
    try:
        return _ingest_document(task)
    except MemoryError:
        return DocResult(doc_row(task.source, "out_of_memory", doc_id=task.doc_id, file_bytes=task.file_bytes,
                                 dpi=cfg.dpi, error=f"ran out of the worker's {cfg.max_worker_memory_mb} MB "
                                                    "memory limit"), [])


def _ingest_document(task: DocTask) -> DocResult:
    cfg, t0 = task.config, time.perf_counter()
    common = {"doc_id": task.doc_id, "file_bytes": task.file_bytes, "dpi": cfg.dpi}
    try:
        pdf = open_pdf(task.source)
    except PdfError as e:
        return DocResult(doc_row(task.source, e.kind, error=str(e), seconds=time.perf_counter() - t0, **common), [])
    out: PagesFile | None = None
    try:
        n = len(pdf)
        bad = page_count_status(n, cfg.min_pages, cfg.max_pages)
        if bad:
            return DocResult(doc_row(task.source, bad[0], error=bad[1], n_pages=n,
                                     seconds=time.perf_counter() - t0, **common), [])
        title = metadata_title(pdf)
        outline = outline_sections(pdf) if cfg.sections in ("auto", "outline") else []
        pages, heads, scaled = [], [], []
        need_heads = cfg.sections == "heuristic" or (cfg.sections == "auto" and not outline)
        auto = cfg.ocr == "auto"
        for rendered in render_pages(pdf, cfg.dpi, cfg.jpeg_quality, headings=need_heads,
                                     max_pixels=cfg.max_page_pixels, classify=auto):
            rendered.row["doc_id"] = task.doc_id
            if rendered.scaled:
                scaled.append(rendered.row["page"])
            apply_ocr(rendered.row, cfg.ocr, cfg.ocr_engine, scan=rendered.scan if auto else None)
            pages.append(rendered.row)
            heads.append(rendered.headings)
            # past spill_pages the worker writes the pages itself, a row group at a time: memory stays bounded
            if task.pages_url and (out is not None or len(pages) >= task.spill_pages):
                if out is None:
                    from .writer import PagesFile   # noqa: F811 - pyarrow, only in a worker that writes pages

                    out = PagesFile(task.pages_url)
                out.write(pages)
                pages = []
        location = {}
        if out is not None:
            location = {"pages_file": storage.name(task.pages_url), "page_row_groups": out.close(),
                        "page_sizes": out.page_sizes}
            out = None
    except PdfError as e:
        if out is not None:
            out.discard()
        return DocResult(doc_row(task.source, e.kind, error=str(e), n_pages=len(pdf),
                                 seconds=time.perf_counter() - t0, **common), [])
    except BaseException:   # out of memory, a time limit's alarm, ...: no half-written pages file is left
        if out is not None:
            out.discard()
        raise
    finally:
        pdf.close()
    sections, sections_from = _choose_sections(cfg.sections, outline, heads)
    title = title or first_heading(heads) or (sections[0]["heading"] if sections else "")
    note = (f"scaled: {len(scaled)} pages rendered below {cfg.dpi} dpi to fit {cfg.max_page_pixels:,} pixels "
            f"(0-based: {', '.join(map(str, scaled[:20]))}{' ...' if len(scaled) > 20 else ''})") if scaled else ""
    row = doc_row(task.source, "ok", n_pages=n, title=title, sections=sections, error=note,
                  sections_from=sections_from, seconds=time.perf_counter() - t0, **common)
    return DocResult({**row, **location}, pages)


def hash_input(item: tuple[int, str]) -> tuple[int, str]:
    """(size, SHA-256) of one input file; the per-item stage of `input_hashes`."""
    return os.path.getsize(item[1]), sha256_file(item[1])


def input_hashes(paths: list[str], cfg: IngestConfig):
    """(path, (size, sha256) or why it could not be read) in input order. On Ray the files are hashed by the
    cluster's workers, so that the driver never reads the corpus' bytes (a shared folder every node mounts); the
    results are put back in input order here, where duplicates and exclusions are decided. Locally the driver
    hashes them itself: same disk, and no second process pool beside the rendering one."""
    if cfg.executor != "ray":
        for path in paths:
            try:
                yield path, hash_input((0, path))
            except OSError as e:
                yield path, f"{type(e).__name__}: {e}"   # as a Ray task's failure names it
        return
    done: dict[int, tuple] = {}
    nxt = 0
    for (i, path), out in map_unordered(hash_input, enumerate(paths), executor="ray", workers=cfg.workers,
                                        timeout_s=cfg.timeout_s, ray_address=cfg.ray_address):
        done[i] = (path, out.error if isinstance(out, Failure) else out)
        while nxt in done:
            yield done.pop(nxt)
            nxt += 1


def versions() -> dict:
    import PIL
    import pyarrow
    import pypdfium2

    return {"mmprolong": __version__, "pypdfium2": str(pypdfium2.version.PYPDFIUM_INFO),
            "pdfium": str(pypdfium2.version.PDFIUM_INFO), "pillow": PIL.__version__, "pyarrow": pyarrow.__version__}


def _settings(cfg: IngestConfig, excluded: set[str]) -> dict:
    s = {k: v for k, v in asdict(cfg).items()
         if k not in ("progress", "workers", "executor", "ray_address", "flush_pages", "retry_failed",
                      "max_worker_memory_mb", "worker_writes", "flush_docs")}
    s["excluded_hashes"] = len(excluded)
    return s


def ingest(inputs: list[str], out: str | Path, config: IngestConfig | None = None,
           console: Console | None = None) -> IngestSummary:
    """Ingest PDFs into the page store at `out`, resuming a store that a killed run left behind. The store is held
    exclusively for the run (`run.outdir.claim`): a second writer is refused, naming this one."""
    from ..run.outdir import claim

    with claim(out, "page-store", "ingest"):
        return _ingest(inputs, out, config, console)


def _ingest(inputs: list[str], out: str | Path, config: IngestConfig | None, console: Console | None
            ) -> IngestSummary:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .writer import StoreWriter, doc_pages_name, remove_pages_file

    cfg = config or IngestConfig()
    check_engine(cfg.ocr, cfg.ocr_engine)
    t0 = time.monotonic()
    paths = expand_inputs(list(inputs))
    excluded = load_exclusions(cfg.exclude)
    writer = StoreWriter(out, flush_pages=cfg.flush_pages, flush_docs=cfg.flush_docs)
    worker_writes = cfg.worker_writes
    if worker_writes is None:
        worker_writes = cfg.executor == "ray" or not storage.is_local(out)
    spill = 0 if worker_writes else cfg.flush_pages
    previous = writer.read_manifest().get("settings", {})
    for key in RENDER_KEYS:
        if key in previous and previous[key] != getattr(cfg, key):
            raise ValueError(f"{key}: the store at {out} was made with {key}={previous[key]}, not "
                             f"{getattr(cfg, key)}; use the same value or another --out")
    settings = _settings(cfg, excluded)
    writer.write_manifest(settings, versions(), complete=False)

    done = writer.committed_docs()
    failed = {src for src, st in zip(done.column("source").to_pylist(), done.column("status").to_pylist())
              if st in RETRY_STATUSES}
    if cfg.retry_failed and failed:
        writer.drop_rows(failed & {printable(p) for p in paths}, RETRY_STATUSES)
        done = writer.committed_docs()
    done_sources = set(done.column("source").to_pylist())
    known = {d: s for d, s, st in zip(done.column("doc_id").to_pylist(), done.column("source").to_pylist(),
                                     done.column("status").to_pylist()) if d and st not in ("duplicate", "excluded")}
    todo = [p for p in paths if printable(p) not in done_sources]
    counts: dict[str, int] = {}
    n_pages = 0
    console = console or Console(stderr=True)
    progress = Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("docs"),
                        TextColumn("{task.fields[pages]:,} pages"), TextColumn("{task.fields[rate]:.1f} pages/s"),
                        TimeElapsedColumn(), console=console, disable=not cfg.progress)
    bar = progress.add_task("ingest", total=len(todo), pages=0, rate=0.0)

    def record(doc: dict, pages: list[dict]) -> None:
        nonlocal n_pages
        writer.add(doc, pages)
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        n_pages += doc["n_pages"] if doc["status"] == "ok" else 0
        progress.update(bar, advance=1, pages=n_pages, rate=n_pages / max(time.monotonic() - t0, 1e-9))

    def tasks():
        """Filter in input order, in the parent (deterministic); yield only what must be rendered."""
        for path, hashed in input_hashes(todo, cfg):
            if isinstance(hashed, str):
                record(doc_row(path, "error", error=f"cannot read: {hashed}"), [])
                continue
            size, sha = hashed
            if sha in excluded:
                record(doc_row(path, "excluded", doc_id=sha, file_bytes=size,
                               error="SHA-256 on the exclusion list"), [])
            elif sha in known:
                record(doc_row(path, "duplicate", doc_id=sha, file_bytes=size, error=f"same bytes as {known[sha]}"),
                       [])
            else:
                known[sha] = path
                yield DocTask(path, sha, size, cfg, writer.pages_url(doc_pages_name(sha)), spill)

    try:
        with progress:
            workers = cfg.workers
            if workers is None and cfg.executor == "local":
                workers = min(default_workers(), max(1, len(todo)))
            for task, result in map_unordered(ingest_document, tasks(), executor=cfg.executor, workers=workers,
                                              timeout_s=cfg.timeout_s, max_tasks_per_worker=cfg.max_tasks_per_worker,
                                              ray_address=cfg.ray_address,
                                              max_worker_memory_mb=cfg.max_worker_memory_mb
                                              if cfg.executor == "ray" else None):
                if isinstance(result, Failure):
                    remove_pages_file(task.pages_url)   # what a killed worker left of its pages: never committed
                    status = result.kind if result.kind in ("timeout", "out_of_memory") else "error"
                    error = str(result)
                    if died_of_memory(result, cfg):
                        status = "out_of_memory"
                        error = (f"the worker died of SIGABRT under its {cfg.max_worker_memory_mb} MB memory limit "
                                 f"(a failed allocation; {result.error})")
                    record(doc_row(task.source, status, doc_id=task.doc_id, file_bytes=task.file_bytes,
                                   error=error, dpi=cfg.dpi, seconds=result.seconds), [])
                else:
                    record(result.doc, result.pages)
    finally:
        writer.close()  # whole documents only: what was finished is kept, the rest is redone on resume
    manifest = writer.write_manifest(settings, versions(), complete=True)
    waiting = sum(manifest["counts"].get(s, 0) for s in RETRY_STATUSES)
    return IngestSummary(str(out), dict(sorted(counts.items())), n_pages, len(paths) - len(todo),
                         time.monotonic() - t0, manifest["documents"], manifest["pages"], waiting)


def summary_table(s: IngestSummary) -> Table:
    """The one-screen summary: outcomes of this run by status, pages, time, and the store's totals."""
    from rich.table import Table

    t = Table(title=f"ingest -> {s.store}", show_header=True)
    t.add_column("status")
    t.add_column("documents", justify="right")
    for status, n in sorted(s.counts.items(), key=lambda kv: (kv[0] != "ok", kv[0])):
        t.add_row(status if status == "ok" else f"[red]{status}", f"{n:,}")
    if s.skipped:
        t.add_row("already in store", f"{s.skipped:,}")
    t.add_section()
    t.add_row("pages written", f"{s.pages:,}")
    t.add_row("time", f"{s.seconds:.1f} s ({s.pages_per_s:.1f} pages/s)")
    t.add_row("store total", f"{s.store_documents:,} docs, {s.store_pages:,} pages")
    t.add_row("waiting for --retry-failed", f"{s.waiting:,} (error / timeout)")
    return t
