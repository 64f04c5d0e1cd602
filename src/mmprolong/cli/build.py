"""`mmprolong build --recipe R --store S --out OUT`: page store -> training shards (parses and wires; the work is
mmprolong.dataset.build)."""

from __future__ import annotations

from ..run import EXECUTORS


def register(sub) -> None:
    p = sub.add_parser(
        "build", help="build training shards from a page store with a recipe",
        description="Plan the recipe's task x length mixture over the page store, then per document: choose segments, "
                    "generate QA, verify, dedupe and assemble instances of exact token length. Writes OUT/shards, "
                    "OUT/qa, OUT/rejected (Parquet), OUT/manifest.json and OUT/report/. Stops at the recipe's token "
                    "budget. A killed build resumes: run the same command again.")
    p.add_argument("--recipe", required=True, metavar="R",
                   help="recipe YAML path or bundled name (paper-qwen2.5-vl-7b, long-biased, ocr-full, ocr-needle, demo)")
    p.add_argument("--store", required=True, metavar="S", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (created, or resumed)")
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="local process pool or Ray (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="per-document limit; a slower document is recorded as rejected (default: none)")
    p.add_argument("--no-report", action="store_true", help="skip OUT/report/")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def summary_table(s):
    from rich.table import Table

    t = Table(title=f"build {s.recipe} ({s.recipe_hash})", show_header=False)
    t.add_row("instances", f"{s.samples:,}" + (" (resumed)" if s.resumed else ""))
    t.add_row("tokens", f"{s.tokens:,} of {s.budget_tokens:,} budget")
    t.add_row("documents", f"{s.docs_done:,} of {s.docs_planned:,} planned")
    t.add_row("by task", ", ".join(f"{k} {v}" for k, v in sorted(s.by_task.items())) or "-")
    t.add_row("QA kept / rejected", f"{s.qa_kept:,} / {s.rejected:,}")
    t.add_row("rejections", ", ".join(f"{k} {v}" for k, v in sorted(s.rejected_by_reason.items())) or "-")
    t.add_row("seconds", f"{s.seconds:.1f}")
    t.add_row("output", s.out)
    return t


def run(args) -> int:
    from rich.console import Console

    from ..dataset.build import build

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    summary = build(args.recipe, args.store, args.out, executor=args.executor, workers=args.workers,
                    progress=not args.quiet, report=not args.no_report, timeout_s=args.timeout)
    if not args.quiet:
        Console(stderr=True).print(summary_table(summary))
    return 0
