"""`mmprolong dedup STORE`: find near-duplicate documents of a page store (parses and wires; the work is
mmprolong.corpus.neardup and mmprolong.corpus.dedup)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "dedup", help="find near-duplicate documents (MinHash/LSH over page text); builds leave them out",
        description="Sign every document of a page store with a MinHash of its text's word shingles and find "
                    "near-duplicates (estimated Jaccard >= --threshold) with an LSH index. Of each group the "
                    "document with the most pages is kept; the others are written to STORE/near_duplicates.parquet "
                    "with the doc_id they duplicate, and `mmprolong build` leaves them out. --against adds eval "
                    "documents (PDF files, folders of PDFs, or page stores): pool documents near one of them are "
                    "left out of every build. The work runs as separate stages on --workers processes (or Ray "
                    "tasks): each worker signs the documents of its docs parts and writes their LSH band keys into "
                    "hash-partitioned bucket files; one task per partition verifies the documents sharing a band "
                    "key; the driver joins the pairs into groups. A killed run resumes where it stopped; a store "
                    "whose dedup is current is not redone (--force redoes it).")
    p.add_argument("store", metavar="STORE", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--threshold", type=float, default=0.8, help="estimated Jaccard similarity (default %(default)s)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default %(default)s)")
    p.add_argument("--against", nargs="*", default=[], metavar="PATH",
                   help="eval documents: PDFs, folders of PDFs or page stores")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine; ray: Ray tasks (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="processes / Ray CPUs (default: all cores)")
    p.add_argument("--ray-address", default=None,
                   help="with --executor ray: join this Ray cluster (default: start a local Ray for the run)")
    p.add_argument("--partitions", type=int, default=None, metavar="P",
                   help="bucket partitions of the band-key shuffle (memory of one pairs task ~ 1/P of the band "
                        "keys; default 32, fewer for a store of few docs parts)")
    p.add_argument("--force", action="store_true", help="redo dedup even when the store's result is current")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from ..corpus.neardup import FILE, dedup_store

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    found = dedup_store(args.store, threshold=args.threshold, num_perm=args.num_perm, against=args.against,
                        executor=args.executor, workers=args.workers, ray_address=args.ray_address,
                        partitions=args.partitions, force=args.force, progress=not args.quiet)
    if not args.quiet:
        c = Console(stderr=True)
        c.print(f"{len(found)} near-duplicate documents ({sum(d.kind == 'eval' for d in found)} of eval documents) "
                f"-> {args.store}/{FILE}")
        for d in found[:20]:
            c.print(f"  {d.doc_id[:12]} ~ {d.kept_doc_id[:12]} ({d.kind}, similarity {d.similarity:.2f})")
    return 0
