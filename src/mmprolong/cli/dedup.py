"""`mmprolong dedup STORE`: find near-duplicate documents of a page store (parses and wires; the work is
mmprolong.corpus.neardup)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "dedup", help="find near-duplicate documents (MinHash/LSH over page text); builds leave them out",
        description="Sign every document of a page store with a MinHash of its text's word shingles and find "
                    "near-duplicates (estimated Jaccard >= --threshold) with an LSH index. Of each group the "
                    "document with the most pages is kept; the others are written to STORE/near_duplicates.parquet "
                    "with the doc_id they duplicate, and `mmprolong build` leaves them out. --against adds eval "
                    "documents (PDF files, folders of PDFs, or page stores): pool documents near one of them are "
                    "left out of every build.")
    p.add_argument("store", metavar="STORE", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--threshold", type=float, default=0.8, help="estimated Jaccard similarity (default %(default)s)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default %(default)s)")
    p.add_argument("--against", nargs="*", default=[], metavar="PATH",
                   help="eval documents: PDFs, folders of PDFs or page stores")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from ..corpus.neardup import FILE, dedup_store

    found = dedup_store(args.store, threshold=args.threshold, num_perm=args.num_perm, against=args.against)
    if not args.quiet:
        c = Console(stderr=True)
        c.print(f"{len(found)} near-duplicate documents ({sum(d.kind == 'eval' for d in found)} of eval documents) "
                f"-> {args.store}/{FILE}")
        for d in found[:20]:
            c.print(f"  {d.doc_id[:12]} ~ {d.kept_doc_id[:12]} ({d.kind}, similarity {d.similarity:.2f})")
    return 0
