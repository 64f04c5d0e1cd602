"""`mmprolong ingest INPUT... --out STORE`: PDFs -> page store (parses and wires; the work is corpus.ingest)."""

from __future__ import annotations

import argparse

from ..run import PROCESS_EXECUTORS


def register(sub) -> None:
    p = sub.add_parser(
        "ingest", help="render PDFs into a page store (JPEG pages, text layer, sections)",
        description="Render PDFs into a page store: STORE/docs, STORE/pages (Parquet) and STORE/manifest.json. "
                    "Unreadable files are recorded with their failure kind and skipped. A killed run resumes: "
                    "run the same command again.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="PDF files, folders (searched recursively for *.pdf), globs, or .txt/.lst files listing "
                        "one path per line")
    p.add_argument("--out", required=True, metavar="STORE",
                   help="page store folder or fsspec URL, e.g. s3://bucket/store (created or resumed; credentials "
                        "and endpoint from the environment, never the URL)")
    p.add_argument("--dpi", type=int, default=144, help="render resolution (default %(default)s, as in the paper)")
    p.add_argument("--jpeg-quality", type=int, default=90,
                   help="JPEG quality of the stored page images (default %(default)s)")
    p.add_argument("--min-pages", type=int, default=1,
                   help="record shorter documents as too_few_pages (default %(default)s; the paper's pool: 20)")
    p.add_argument("--max-pages", type=int, default=None,
                   help="record longer documents as too_many_pages (the paper's pool: 200; default: no limit)")
    p.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="decontamination list: lines of SHA-256 hashes or PDF paths (e.g. the eval documents); "
                        "matching documents are recorded as excluded and never rendered (repeatable)")
    p.add_argument("--sections", choices=("auto", "outline", "heuristic", "none"), default="auto",
                   help="where section starts come from (default %(default)s: the PDF outline when present, "
                        "else headings)")
    p.add_argument("--ocr", choices=("auto", "off", "force"), default="auto",
                   help="OCR page images (corpus/ocr.py): auto (default) for pages whose text layer is empty or "
                        "unusable (scans), off, or force for every page; the store records each page's text_source")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=PROCESS_EXECUTORS, default="local",
                   help="local process pool or Ray (default %(default)s)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --executor ray: join this Ray cluster (the PDFs must be on a file system its nodes "
                        "share, the store too or on object storage); default: start a local Ray")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="per-document limit; a slower document is recorded as timeout (default %(default)s)")
    p.add_argument("--max-tasks-per-worker", type=int, default=50,
                   help="replace a worker process after this many documents, bounding memory (default %(default)s)")
    p.add_argument("--flush-pages", type=int, default=256,
                   help="pages held before a part file is written; longer documents are streamed (bounds memory; "
                        "default %(default)s)")
    p.add_argument("--flush-docs", type=int, default=1000,
                   help="docs rows held before they are committed (also every 30 s): what a killed run redoes "
                        "(default %(default)s)")
    p.add_argument("--worker-writes", action=argparse.BooleanOptionalAction, default=None,
                   help="each worker writes its document's pages into the store itself and the driver commits only "
                        "docs rows (default: on with --executor ray or a URL --out, off otherwise)")
    p.add_argument("--max-page-pixels", type=int, default=40_000_000, metavar="N",
                   help="render a page larger than N pixels at --dpi scaled down to N pixels (recorded in the "
                        "document's row); bounds a worker's memory on giant pages (default %(default)s)")
    p.add_argument("--max-worker-memory", type=int, default=4096, metavar="MB",
                   help="memory limit per worker process (ray: per task); a document that needs more is recorded as "
                        "out_of_memory (default %(default)s; 0: no limit)")
    p.add_argument("--retry-failed", action="store_true",
                   help="give inputs recorded as error or timeout by an earlier run another try")
    p.add_argument("--no-report", action="store_true",
                   help="skip STORE/report.md and report.png (outcomes, document lengths, sections)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def check_exclusions(paths: list[str]) -> None:
    """A missing exclusion list is a user error that says where the list comes from (the README's step 0)."""
    from pathlib import Path

    for p in paths:
        if "://" not in p and not Path(p).exists():
            raise FileNotFoundError(
                f"--exclude {p}: no such file. An exclusion list holds the SHA-256 (or path) of documents kept out "
                f"of training, e.g. the held-out evaluation PDFs: `mmprolong eval import-mmlongbench ... --exclude-out "
                f"{p}` writes it (README step 0). With no evaluation documents, leave --exclude out")


def run(args) -> int:
    from rich.console import Console

    from ..corpus.ingest import IngestConfig, ingest, summary_table
    from ..corpus.report import write_report

    check_exclusions(args.exclude)
    cfg = IngestConfig(dpi=args.dpi, jpeg_quality=args.jpeg_quality, min_pages=args.min_pages,
                       max_pages=args.max_pages, exclude=args.exclude, sections=args.sections,
                       executor=args.executor, ray_address=args.ray_address, workers=args.workers,
                       timeout_s=args.timeout, max_tasks_per_worker=args.max_tasks_per_worker,
                       flush_pages=args.flush_pages, flush_docs=args.flush_docs, worker_writes=args.worker_writes,
                       progress=not args.quiet, ocr=args.ocr,
                       max_page_pixels=args.max_page_pixels or None,
                       max_worker_memory_mb=args.max_worker_memory or None, retry_failed=args.retry_failed)
    console = Console(stderr=True)
    summary = ingest(args.inputs, args.out, cfg, console=console)
    md = None if args.no_report else write_report(args.out)[0]
    if not args.quiet:
        console.print(summary_table(summary))
        if md:
            console.print(f"report: {md} (+ report.png)")
    return 0
