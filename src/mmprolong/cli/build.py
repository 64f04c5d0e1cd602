"""`mmprolong build --recipe R --store S --out OUT`: page store -> training shards (parses and wires; the work is
mmprolong.dataset.build)."""

from __future__ import annotations

from pathlib import Path

from ..run import EXECUTORS

# the bundled recipes, read from the package's folder without importing the recipe module (--help stays light)
RECIPES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))
OFFLINE_HINT = ("to build offline, with no teacher and no key: add --generator rules (questions written by rules "
                "from each page's text layer), or use --recipe demo")


def register(sub) -> None:
    p = sub.add_parser(
        "build", help="build training shards from a page store with a recipe",
        description="Plan the recipe's task x length mixture over the page store, then per document: choose segments, "
                    "generate QA, verify, dedupe and assemble instances of exact token length. Writes OUT/shards, "
                    "OUT/qa, OUT/rejected (Parquet), OUT/manifest.json and OUT/report/. Stops at the recipe's token "
                    "budget. A killed build resumes: run the same command again. Offline (no teacher, no API key): "
                    "--generator rules, or --recipe demo.")
    p.add_argument("--recipe", required=True, metavar="R",
                   help="recipe YAML path or bundled name: " + ", ".join(RECIPES))
    p.add_argument("--generator", choices=("recipe", "rules"), default="recipe",
                   help="rules: write the QA offline by rules from each page's text layer (no teacher, no key, no "
                        "network), in place of the recipe's generator and without its verify block; the output is "
                        "its own dataset (its own recipe hash). Default: the recipe's generator")
    p.add_argument("--store", required=True, metavar="S", help="page store folder (from `mmprolong ingest`)")
    p.add_argument("--out", metavar="OUT", help="output folder or fsspec URL (s3://bucket/out; created, or resumed); "
                   "with --executor ray on a cluster, a place every node can write; required unless --plan")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="local process pool, Ray, or threads (for a remote teacher). Default: threads with the "
                        "recipe's openai generator, local otherwise")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes, or threads with --executor threads (default: all cores; with the openai "
                        "generator and the default executor, generator.concurrency threads, so that many teacher "
                        "requests stay in flight)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --executor ray: join this Ray cluster (default: start a local Ray for the run)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="per-document deadline; a slower document is not done and waits for --retry-failed "
                        "(default %(default)s; 0 turns it off)")
    p.add_argument("--max-consecutive-failures", type=int, default=20, metavar="N",
                   help="stop the build when N generations in a row fail for the same reason (a teacher that is "
                        "down, a rejected key); default %(default)s")
    p.add_argument("--retry-failed", action="store_true",
                   help="also retry documents that ran over --timeout or whose worker died (failed generations "
                        "are always retried by a rerun)")
    p.add_argument("--no-preflight", action="store_true",
                   help="skip the teacher check before planning (key, server, model, one tiny request)")
    p.add_argument("--no-report", action="store_true", help="skip OUT/report/")
    p.add_argument("--plan", action="store_true",
                   help="only plan: print instances per task x length bucket and what the plan leaves out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--keep-near-duplicates", action="store_true",
                   help="keep documents `mmprolong dedup` found near-duplicate of a kept one (eval ones stay out)")
    p.add_argument("--no-dedup", action="store_true",
                   help="do not find near-duplicate documents first (by default a store never deduplicated, or "
                        "changed since, is deduplicated before planning, as `mmprolong dedup` does); pool "
                        "near-duplicates are then kept")
    p.set_defaults(func=run)


def summary_table(s):
    from rich.table import Table

    t = Table(title=f"build {s.recipe} ({s.recipe_hash})", show_header=False)
    t.add_row("instances", f"{s.samples:,}" + (" (resumed)" if s.resumed else ""))
    if s.pool_exhausted and s.tokens < s.budget_tokens:   # the store ran out of documents, not the budget
        t.add_row("tokens", f"pool exhausted: {s.tokens:,} of {s.budget_tokens:,} tokens (every document that fits "
                            "was used; more PDFs reach the budget)")
    else:
        t.add_row("tokens", f"{s.tokens:,} of {s.budget_tokens:,} budget")
    t.add_row("documents", f"{s.docs_done:,} of {s.docs_planned:,} planned")
    t.add_row("by task", ", ".join(f"{k} {v}" for k, v in sorted(s.by_task.items())) or "-")
    t.add_row("QA kept / rejected", f"{s.qa_kept:,} / {s.rejected:,}")
    t.add_row("rejections", ", ".join(f"{k} {v}" for k, v in sorted(s.rejected_by_reason.items())) or "-")
    t.add_row("errors (not done, retried)", f"{s.failed:,}" + (": " + ", ".join(
        f"{k} {v}" for k, v in sorted(s.failed_by_reason.items())) if s.failed else ""))
    t.add_row("near-duplicates removed", "dedup off (--no-dedup)" if s.dedup == "off" else
              f"{s.near_duplicates_removed:,}" + (" (dedup ran first)" if s.dedup == "ran" else ""))
    t.add_row("seconds", f"{s.seconds:.1f}")
    t.add_row("output", s.out)
    return t


def plan_table(plan):
    from rich.table import Table

    buckets = {b for t in plan.targets.values() for b in t}
    order = {b: i for i, b in enumerate(plan.target_shares)}
    buckets = sorted(buckets, key=lambda b: (order.get(b, len(order)), b))
    first = [d for d in plan.docs if d.round == 0]
    t = Table(title=f"plan, round 0: {sum(len(d.slots) for d in first):,} instances from {len(first):,} documents, "
                    f"{plan.planned_tokens:,} tokens planned; {len(plan.docs) - len(first):,} more documents in "
                    f"later rounds (used only if rejections leave the budget unmet)")
    t.add_column("task")
    t.add_column("share")
    for b in buckets:
        t.add_column(b, justify="right")
    for task, share in plan.task_shares.items():
        t.add_row(task, f"{share:.2f}", *[str(plan.targets.get(task, {}).get(b, 0)) for b in buckets])
    t.add_row("target share", "", *[f"{plan.target_shares.get(b, 0):.2f}" for b in buckets])
    if plan.skipped:
        t.caption = "left out: " + ", ".join(f"{k} ({v})" for k, v in plan.skipped.items())
    return t


def offline(recipe):
    """The recipe with the rules generator and no model verification: nothing in it calls a server."""
    from ..recipe import parse_recipe

    data = recipe.canonical()
    data.update(name=f"{recipe.name}-rules", generator={"kind": "rules"}, verify={"kind": "none"})
    return parse_recipe(data, f"{recipe.name} with --generator rules")


def run(args) -> int:
    from rich.console import Console

    from ..dataset.build import build
    from ..errors import SetupError
    from ..recipe import load_recipe

    recipe = load_recipe(args.recipe)
    if args.generator == "rules":
        recipe = offline(recipe)
    if args.plan:
        from ..corpus.dedup import is_current
        from ..corpus.store import PageStore
        from ..dataset.planner import make_plan

        store = PageStore(args.store)
        Console().print(plan_table(make_plan(recipe, store,
                                             keep_near_duplicates=args.keep_near_duplicates or args.no_dedup)))
        if not args.no_dedup and not is_current(store.url):
            Console(stderr=True).print("[yellow]the store's near-duplicates are not current: this plan keeps them; "
                                       "`mmprolong build` runs dedup first (or `mmprolong dedup STORE`)")
        return 0
    if not args.out:
        raise ValueError("--out is required (unless --plan)")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.max_consecutive_failures < 1:
        raise ValueError(f"--max-consecutive-failures must be >= 1, got {args.max_consecutive_failures}")
    try:
        summary = build(recipe, args.store, args.out, executor=args.executor, workers=args.workers,
                        progress=not args.quiet, report=not args.no_report, timeout_s=args.timeout or None,
                        ray_address=args.ray_address, max_consecutive_failures=args.max_consecutive_failures,
                        retry_failed=args.retry_failed, preflight=not args.no_preflight,
                        keep_near_duplicates=args.keep_near_duplicates, dedup=not args.no_dedup)
    except (SetupError, ValueError) as e:
        if "is not set" not in str(e) or "API key" not in str(e):
            raise
        raise type(e)(f"{e}; {OFFLINE_HINT}") from None
    if not args.quiet:
        console = Console(stderr=True)
        console.print(summary_table(summary))
        if summary.failed:
            console.print(f"[yellow]{summary.failed} documents are not done (failed generation or deadline); run "
                          "the same command again to retry them (add --retry-failed for deadline/worker failures)")
        if summary.docs_planned == 0:
            console.print("[yellow]no document of the store fits the recipe's lengths; "
                          "`mmprolong build --plan` says which were left out and why")
    if nothing_built(summary):   # every document tried failed or was rejected: an error, as in `eval run`
        import sys

        print(nothing_built(summary), file=sys.stderr)
        return 1
    return 0


def nothing_built(s) -> str:
    """The one-line error of a build that kept no instance although documents were tried (each failed or had all
    its QA rejected), or "" when the build made something or had nothing to try."""
    if s.samples or not (s.failed or s.rejected):
        return ""
    parts = []
    if s.failed:
        parts.append(f"{s.failed} documents failed (" + ", ".join(f"{k} {v}" for k, v in
                                                                   sorted(s.failed_by_reason.items())) + ")")
    if s.rejected:
        parts.append(f"{s.rejected} QA/instances rejected (" + ", ".join(
            f"{k} {v}" for k, v in sorted(s.rejected_by_reason.items())) + ")")
    return (f"build kept no instances: {'; '.join(parts)}; see {s.out}/rejected and mmprolong.log; fix the cause and "
            "run the same command again (failed documents are retried)")
