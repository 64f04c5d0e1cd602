"""`mmprolong compact STORE`: rewrite a page store's small pages files into large part files (parses and wires; the
work is mmprolong.corpus.compact)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "compact", help="rewrite per-document pages files into large part files (object-store friendly)",
        description="Copy the pages of every document that is not yet in a compact part (per-document files of "
                    "`ingest --worker-writes`, small batched parts) into STORE/pages/compact-*.parquet parts of "
                    "about --target-mb each, update the docs rows' locations (each docs part replaced atomically) "
                    "and remove the old files. Readers work on either layout; a killed run leaves a valid store; "
                    "run it again to resume. Do not ingest into the store while it runs.")
    p.add_argument("store", metavar="STORE", help="page store folder or URL (from `mmprolong ingest`)")
    p.add_argument("--target-mb", type=float, default=512, metavar="MB",
                   help="size of a compact part in MiB of page bytes (default %(default)s; 256-1024 suits object "
                        "storage)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from ..corpus.compact import compact

    if args.target_mb <= 0:
        raise ValueError(f"--target-mb must be positive, got {args.target_mb}")
    s = compact(args.store, target_bytes=int(args.target_mb * 2**20), progress=not args.quiet)
    if not args.quiet:
        Console(stderr=True).print(
            f"compacted {s.store}: {s.documents_moved:,} documents ({s.pages_moved:,} pages, "
            f"{s.bytes_moved / 2**20:,.1f} MiB) into {len(s.parts_written)} parts; {s.files_removed:,} old files "
            f"removed, {s.docs_parts_rewritten:,} docs parts rewritten")
    return 0
