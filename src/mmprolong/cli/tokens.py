"""`mmprolong tokens STORE --model M`: exact token lengths of a page store's documents (parses and wires; the
work is mmprolong.tokens.report)."""

from __future__ import annotations

import re
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "tokens", help="count a page store's documents in tokens for a model (per page, per document)",
        description="Count every ok document of a page store exactly, as the model's processor would: tokens per "
                    "page (what it adds to a sample: image, image wrap and page marker; the text layer apart) and per "
                    "document (its full-document chat sample). Prints a summary "
                    "(median/p90, how many documents fit 32K/64K/128K/256K) and writes OUT/tokens.md, "
                    "OUT/tokens_hist.png, OUT/tokens_docs.csv and OUT/tokens_docs.parquet.")
    p.add_argument("store", metavar="STORE", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--model", default="qwen2.5-vl",
                   help="preset (qwen2.5-vl, qwen3-vl) or a local model folder (default %(default)s)")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="pixel bound per image (default: the model's own, 12,845,056 for Qwen2.5-VL)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default: STORE/reports/tokens-<model>)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the docs parts are counted: this machine (--workers processes; 1: in this process) "
                        "or a Ray cluster (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel workers (default: 1 locally, the cluster's CPUs with ray)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --executor ray: join this Ray cluster (default: start a local one)")
    p.add_argument("--no-text-layer", action="store_true",
                   help="skip the text-layer count: then only the docs rows are read, never the pages")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..run.outdir import claim
    from ..tokens import load
    from ..tokens.report import summary_rows, token_report, write_report

    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels must be positive, got {args.max_pixels}")
    counter = load(args.model)
    if args.max_pixels is not None and args.max_pixels < counter.min_pixels:
        raise ValueError(f"--max-pixels {args.max_pixels:,} is below the model's min_pixels {counter.min_pixels:,}")
    safe_name = re.sub(r"[^\w.-]+", "_", counter.name)
    out = Path(args.out) if args.out else Path(args.store) / "reports" / f"tokens-{safe_name}"
    with claim(out, "token-report", "tokens"):   # before counting: a wrong or busy OUT is refused at once
        report = token_report(args.store, counter, max_pixels=args.max_pixels, progress=not args.quiet,
                              executor=args.executor, workers=args.workers if args.executor == "ray" else
                              (args.workers or 1), ray_address=args.ray_address, model=args.model, out_dir=out,
                              text_layer=not args.no_text_layer)
        paths = write_report(report, out)
    if not args.quiet:
        t = Table(title=f"tokens: {args.store}", show_header=False)
        for k, v in summary_rows(report):
            t.add_row(k, v)
        t.add_row("report", str(paths["md"]))
        Console(stderr=True).print(t)
    return 0
