"""`mmprolong synth --store S --out OUT`: page store -> verified QA records (parses and wires; the work is
mmprolong.synth.stage)."""

from __future__ import annotations

QA_TASKS = ("extract-single", "extract-multi", "reasoning")  # = synth.tasks.QA_TASKS (not imported: keeps --help fast)


def register(sub) -> None:
    p = sub.add_parser(
        "synth", help="synthesise verified long-document QA records from a page store",
        description="Per document: choose segments (consecutive sections, 8-15 pages), write one QA pair per segment "
                    "with the rules generator (offline) or a teacher VLM behind an OpenAI-compatible endpoint, and "
                    "verify it. Writes OUT/qa/*.parquet (kept and rejected, with reasons), OUT/report.md and "
                    "OUT/report.png. A killed run resumes: run the same command again.")
    p.add_argument("--store", required=True, metavar="S", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (created, or resumed)")
    p.add_argument("--generator", choices=("rules", "openai"), default="rules", help="default %(default)s")
    p.add_argument("--tasks", default=",".join(QA_TASKS), help="comma list, taken in turn (default %(default)s)")
    p.add_argument("--per-doc", type=int, default=3, help="QA items per document (default %(default)s)")
    p.add_argument("--min-pages", type=int, default=8, help="segment size (default %(default)s)")
    p.add_argument("--max-pages", type=int, default=15, help="segment size (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="segment and question choice seed (default %(default)s)")
    g = p.add_argument_group("openai generator")
    g.add_argument("--model", default="", help="teacher model name at the endpoint")
    g.add_argument("--base-url", default=None, help="e.g. http://localhost:8000/v1 (default: the client's)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    g.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default %(default)s)")
    g.add_argument("--cache-dir", default=None, help="reply cache folder (default: OUT/cache)")
    g.add_argument("--send-text", action="store_true", help="also send each page's text layer")
    g.add_argument("--image-max-pixels", type=int, default=None, help="downscale page images above this size")
    v = p.add_argument_group("verifier model (off unless --verify-model is given)")
    v.add_argument("--verify-model", default="", help="VLM that answers each question again (may be the teacher)")
    v.add_argument("--verify-base-url", default=None, help="its endpoint (default: the client's)")
    v.add_argument("--verify-api-key-env", default="OPENAI_API_KEY", help="environment variable holding its key")
    v.add_argument("--verify-checks", default="evidence,closed_book",
                   help="comma list of evidence, closed_book (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..synth.config import GeneratorConfig
    from ..synth.stage import synthesize

    cfg = {"kind": args.generator}
    if args.generator == "openai":
        cfg |= {"model": args.model, "base_url": args.base_url, "api_key_env": args.api_key_env,
                "concurrency": args.concurrency, "timeout_s": args.timeout, "send_text": args.send_text,
                "cache_dir": args.cache_dir or str(Path(args.out) / "cache"),
                "image_max_pixels": args.image_max_pixels}
    vcfg = None
    if args.verify_model:
        vcfg = {"kind": "openai", "model": args.verify_model, "base_url": args.verify_base_url,
                "api_key_env": args.verify_api_key_env, "checks": [c.strip() for c in args.verify_checks.split(",")],
                "concurrency": args.concurrency, "timeout_s": args.timeout,
                "cache_dir": args.cache_dir or str(Path(args.out) / "cache")}
    s = synthesize(args.store, args.out, GeneratorConfig(**cfg), tasks=[t.strip() for t in args.tasks.split(",")],
                   per_doc=args.per_doc, seed=args.seed, min_pages=args.min_pages, max_pages=args.max_pages,
                   progress=not args.quiet, verify_cfg=vcfg)
    if not args.quiet:
        from rich.console import Console
        from rich.table import Table

        t = Table(title="synth", show_header=False)
        t.add_row("documents", f"{s.docs:,} done" + (f", {s.docs_skipped:,} resumed" if s.docs_skipped else ""))
        t.add_row("records kept / all", f"{s.kept:,} / {s.records:,}")
        t.add_row("by task", ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in s.by_task.items()))
        t.add_row("failures", ", ".join(f"{k} {v}" for k, v in s.failures.items()) or "-")
        t.add_row("verifier model", ", ".join(f"{k} {v:,}" for k, v in s.verifier.items()) if vcfg else "off")
        t.add_row("seconds", f"{s.seconds:.1f}")
        t.add_row("output", f"{s.out} (report.md)")
        Console(stderr=True).print(t)
    return 0
