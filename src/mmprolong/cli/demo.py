"""`mmprolong demo --out DIR`: the main job on the built-in corpus, offline, on a CPU.

built-in PDFs (+ broken files) -> page store -> token accounting -> verified long-document QA (rules generator) ->
training shards at exact lengths -> data report. Each step is the same library call the real commands make.
"""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the built-in demo corpus (offline, CPU)",
                       description=__doc__)
    p.add_argument("--out", default="demo-out", help="output folder (default %(default)s); rerun resumes")
    p.add_argument("--docs", type=int, default=6, help="demo documents to generate (default %(default)s)")
    p.add_argument("--recipe", default="demo", help="recipe name or path (default %(default)s)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from ..corpus.ingest import IngestConfig, ingest, summary_table as ingest_table
    from ..dataset.build import build
    from ..demo.corpus import write_broken_files, write_demo_corpus
    from ..tokens import load
    from ..tokens.report import summary_rows, token_report, write_report
    from .build import summary_table as build_table

    console = Console(stderr=True)
    out = Path(args.out)
    pdfs = out / "pdfs"
    console.rule("[bold]1. built-in corpus")
    paths = write_demo_corpus(pdfs, n_docs=args.docs)
    broken = write_broken_files(pdfs / "broken")
    console.print(f"{len(paths)} demo PDFs and {len(broken)} broken files ({', '.join(broken)}) in {pdfs}")

    console.rule("[bold]2. ingest -> page store")
    s = ingest([str(pdfs)], out / "store", IngestConfig(workers=args.workers))
    console.print(ingest_table(s))

    console.rule("[bold]3. token accounting")
    tok = token_report(out / "store", load("qwen2.5-vl"))
    write_report(tok, out / "tokens")
    console.print("\n".join(f"{k}: {v}" for k, v in summary_rows(tok)))

    console.rule("[bold]4. build: synthesise, verify, assemble, write shards + report")
    b = build(args.recipe, out / "store", out / "build", workers=args.workers)
    console.print(build_table(b))
    report = out / "build" / "report" / "report.md"
    console.rule("[bold]done")
    console.print(f"page store: {out / 'store'}\ntoken report: {out / 'tokens'}\nshards: {out / 'build' / 'shards'}\n"
                  f"data report: {report}")
    return 0
