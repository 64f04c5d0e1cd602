"""`build`: recipe + page store -> training shards, kept QA, rejections, manifest and data report.

plan (deterministic, see planner.py) -> stream the planned documents from the store, one per worker at a time ->
`process_document` on the chosen executor (default: the local process pool; with the openai generator,
`generator.concurrency` threads, so that many teacher requests stay in flight; see `choose_executor`) -> results
put back in plan order -> committed as numbered parts (parts.py) -> stop at the exact token budget ->
manifest.json -> report/.

Results are consumed in plan order whatever finishes first, so the output does not depend on the executor or the
number of workers: the same recipe and store give the same part files, byte for byte. A killed build run again with
the same arguments goes on from its last committed part.
"""

from __future__ import annotations

import json
import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from .. import __version__
from ..corpus.store import PageStore
from ..recipe import Recipe, load_recipe, recipe_hash
from ..run.outdir import HIDDEN
from .document import DocResult, DocumentJob, attach_images
from .parts import PROGRESS, TABLES, PartWriter, atomic_write_text
from .planner import Plan, make_plan
from .quota import BUDGET_TOLERANCE, Quota

MANIFEST = "manifest.json"
OWN_DIRS = {*TABLES, PROGRESS}


@dataclass
class BuildSummary:
    out: str
    recipe: str
    recipe_hash: str
    samples: int
    tokens: int
    budget_tokens: int
    docs_done: int
    docs_planned: int
    qa_kept: int
    rejected: int
    by_task: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False
    pool_exhausted: bool = False   # every planned document was read before the budget was reached
    failed: int = 0             # documents not done (failed generation, deadline, dead worker): retried later
    failed_by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _versions() -> dict[str, str]:
    import pyarrow

    return {"mmprolong": __version__, "python": platform.python_version(), "pyarrow": pyarrow.__version__}


def _check_out(out: Path, digest: str) -> None:
    """An OUT folder holds one build: refuse to mix a different recipe or plan into it."""
    rec = out / PROGRESS / "build.json"
    if rec.exists():
        prev = json.loads(rec.read_text())
        if prev["digest"] != digest:
            raise ValueError(f"{out} holds a build of another recipe or store (recipe hash {prev['recipe_hash']}, "
                             f"plan {prev['plan']}); use a new --out or delete it")
    elif out.exists() and any(not (p.is_dir() and p.name in OWN_DIRS and not any(p.iterdir())) and p.name not in HIDDEN
                              and not p.name.startswith("mmprolong.") for p in out.iterdir()):  # log files
        raise ValueError(f"{out} exists and is not a build folder; use a new --out")


def _items(store: PageStore, plan: Plan, start: int) -> Iterator[tuple]:
    """(index, doc_id, Document | None, slots) for planned documents from `start`, in plan order: round by round,
    one streaming pass over the store per round (store order within a round)."""
    nxt = start
    while nxt < len(plan.docs):
        rnd = plan.docs[nxt].round
        end = nxt
        while end < len(plan.docs) and plan.docs[end].round == rnd:
            end += 1
        index = {plan.docs[i].doc_id: i for i in range(nxt, end)}
        for doc in store.iter_documents(doc_ids=set(index)):
            i = index[doc.doc_id]
            while nxt < i:  # planned but not streamed: the store has no pages for it
                yield nxt, plan.docs[nxt].doc_id, None, plan.docs[nxt].slots
                nxt += 1
            if i == nxt:
                yield i, doc.doc_id, doc, plan.docs[i].slots
                nxt += 1
        while nxt < end:
            yield nxt, plan.docs[nxt].doc_id, None, plan.docs[nxt].slots
            nxt += 1


def _progress_bar(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("build"), BarColumn(), MofNCompleteColumn(), TextColumn("docs"),
                    TextColumn("{task.description}"), TimeRemainingColumn(), disable=not enabled, transient=False)


def choose_executor(recipe: Recipe, executor: str | None, workers: int | None) -> tuple[str, int | None]:
    """(executor, workers) for a build. Default (executor None): with the `openai` generator the per-document stage
    waits on the teacher, so it runs on threads, `generator.concurrency` of them unless `workers` says otherwise,
    which keeps that many requests in flight (the generator's shared client also caps them at `concurrency`);
    otherwise (CPU-bound rules generator) the local process pool. An executor given is kept (its workers: all
    cores, or `generator.concurrency` threads with --executor threads and the openai generator)."""
    openai = recipe.generator.kind == "openai"
    if executor is None:
        executor = "threads" if openai else "local"
    if executor == "threads" and workers is None and openai:
        from ..synth import GeneratorConfig

        workers = GeneratorConfig(**recipe.generator.settings()).concurrency
    return executor, workers


DEFAULT_DOC_TIMEOUT_S = 1800.0    # per-document deadline of a build (on by default; None turns it off)
DEFAULT_MAX_CONSECUTIVE = 20      # failures of one kind in a row that stop a build


def build(recipe: Recipe | str | Path, store: PageStore | str | Path, out: str | Path, executor: str | None = None,
          workers: int | None = None, progress: bool = True, report: bool = True,
          timeout_s: float | None = DEFAULT_DOC_TIMEOUT_S, ray_address: str | None = None,
          max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE, retry_failed: bool = False,
          preflight: bool = True, keep_near_duplicates: bool = False) -> BuildSummary:
    """Build (or resume building) the dataset of `recipe` over `store` into `out` (see the module docstring). `out`
    is held exclusively for the run (`run.outdir.claim`).

    Setup first: with the openai generator, `preflight` checks key, server, model and one tiny request before
    anything is planned or written (SetupError naming the cause). A document whose generation failed (a transport
    failure or a setup error, not a rejected reply) is never done: it is deferred, written nowhere, and retried by
    the next run; a document over the `timeout_s` deadline or whose worker died is deferred too and retried with
    `retry_failed`. `max_consecutive_failures` failures of the same kind in a row stop the build (SetupError with
    that cause) after committing what was done."""
    from ..run.outdir import claim

    if max_consecutive_failures < 1:
        raise ValueError(f"max_consecutive_failures: must be >= 1, got {max_consecutive_failures}")
    with claim(out, "build", "build"):
        return _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address,
                      max_consecutive_failures, retry_failed, preflight, keep_near_duplicates)


def check_generator(recipe: Recipe) -> None:
    """Raise SetupError when the recipe's generator cannot work (see OpenAIGenerator.preflight)."""
    if recipe.generator.kind != "openai":
        return
    from .document import _generator

    _generator(json.dumps(recipe.generator.settings(), sort_keys=True)).preflight()


def _retry_items(store: PageStore, plan: Plan, indices: list[int]) -> Iterator[tuple]:
    """(index, doc_id, Document | None, slots) for deferred plan indices, in store order (one streaming pass)."""
    want = {plan.docs[i].doc_id: i for i in indices}
    seen = set()
    for doc in store.iter_documents(doc_ids=set(want)):
        i = want[doc.doc_id]
        seen.add(i)
        yield i, doc.doc_id, doc, plan.docs[i].slots
    for i in sorted(set(indices) - seen):
        yield i, plan.docs[i].doc_id, None, plan.docs[i].slots


def _retryable(reason: str, retry_failed: bool) -> bool:
    return reason.startswith("generation-failed") or retry_failed


def _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address,
           max_consecutive, retry_failed, preflight, keep_near_duplicates) -> BuildSummary:
    from itertools import chain

    from ..errors import SetupError
    from ..run import Failure, map_unordered

    t0 = time.monotonic()
    recipe = load_recipe(recipe)
    if preflight:
        check_generator(recipe)
    store = store if isinstance(store, PageStore) else PageStore(store)
    out = Path(out)
    executor, workers = choose_executor(recipe, executor, workers)
    counter = recipe.counter()
    rhash = recipe_hash(recipe, counter)
    plan = make_plan(recipe, store, counter, keep_near_duplicates)
    digest = f"{rhash}:{plan.digest()}"
    _check_out(out, digest)
    (out / PROGRESS).mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / PROGRESS / "build.json", json.dumps(
        {"digest": digest, "recipe_hash": rhash, "plan": plan.digest()}))
    writer = PartWriter(out)
    resumed = writer.progress.parts > 0
    atomic_write_text(out / "plan.json", json.dumps(plan.to_json(), indent=1))
    job = DocumentJob(recipe, rhash, plan.edges)
    budget = recipe.budget_tokens
    start = writer.progress.docs_done
    tokens = writer.progress.tokens
    verifier_usage: Counter = Counter()   # model-verification requests and tokens (earlier runs of this build too)
    if resumed and (out / MANIFEST).exists():
        verifier_usage.update(json.loads((out / MANIFEST).read_text()).get("verifier_usage") or {})
    quota = Quota(plan.task_shares, budget, _committed_tasks(out) if resumed else {}, tokens)
    deferred = dict(writer.progress.deferred)
    retry = sorted(i for i, r in deferred.items() if _retryable(r, retry_failed))
    main_left = not writer.progress.finished
    stopped: str = ""
    if (main_left or retry) and tokens < budget:
        with _progress_bar(progress) as bar:
            task = bar.add_task(f"{tokens:,} tokens", total=len(plan.docs) + len(retry),
                                completed=start + len(deferred) - len(retry))
            pending: dict[int, tuple] = {}   # position -> (plan index, result or None, why not, generation events)
            nxt = 0              # next position to consume (retried documents first, then the plan from `start`)
            docs_done = start
            stop = False
            streak_kind, streak, streak_text = "", 0, ""
            items = chain(_retry_items(store, plan, retry), _items(store, plan, start) if main_left else iter(()))
            results = map_unordered(job, ((pos, *it) for pos, it in enumerate(items)), executor=executor,
                                    workers=workers, timeout_s=timeout_s, ray_address=ray_address)
            try:
                for (pos, i, doc_id, doc, slots), res in results:
                    if isinstance(res, Failure):
                        kind = f"document-{res.kind}"
                        pending[pos] = (i, None, f"document-failed: {res}", [kind])
                    elif any(res.events):
                        pending[pos] = (i, None, f"generation-failed: {res.failure}", [e for e in res.events if e])
                    else:
                        pending[pos] = (i, attach_images(res, doc), "", res.events)
                    while nxt in pending and not stop:
                        i, r, why, events = pending.pop(nxt)
                        nxt += 1
                        for ev in events:  # failures of one kind in a row stop the build; an answer resets
                            if ev is None:
                                streak_kind, streak = "", 0
                            elif ev == streak_kind:
                                streak += 1
                            else:
                                streak_kind, streak = ev, 1
                        if i >= docs_done:
                            docs_done = i + 1
                        if r is None:
                            deferred[i] = why
                            streak_text = why
                        else:
                            deferred.pop(i, None)
                            verifier_usage.update(r.verifier)
                            kept, left_out = [], []
                            qa_rows = {q["qa_id"]: q for q in r.qa}
                            for row in r.samples:   # plan order: the mix and the budget are held here (quota.py)
                                left = quota.take(row["task"], row["n_tokens"])
                                if left is None:
                                    kept.append(row)
                                elif not quota.stop:
                                    left_out.append(qa_rows[row["qa_id"]] | {"reason": left})
                                if quota.stop:
                                    stop = True
                                    break
                            tokens = quota.tokens
                            kept_qa = {row["qa_id"] for row in kept}
                            writer.add(kept, [q for q in r.qa if q["qa_id"] in kept_qa], r.rejected + left_out)
                        bar.update(task, advance=1, description=f"{tokens:,} tokens")
                        if streak >= max_consecutive:
                            stopped = (f"{streak} consecutive generation failures of the same kind "
                                       f"({streak_kind}); last: {streak_text}")
                            stop = True
                        if writer.full(recipe.shard_size):
                            writer.commit(docs_done, deferred=deferred)
                    if stop:
                        break
            finally:
                if hasattr(results, "close"):
                    results.close()
            if tokens >= budget or quota.stop:
                deferred = {}   # the budget is met: nothing waits any more
            done = tokens >= budget or quota.stop or docs_done >= len(plan.docs)
            writer.commit(docs_done, finished=not stopped and done, deferred=deferred)
    if stopped:
        from ..redact import redact

        hint = "; fix the cause and run the same command again (what failed is retried)"
        if "document-" in stopped:
            hint += " with --retry-failed"
        raise SetupError(redact(f"build stopped: {stopped}")[:600] + hint)
    summary = summarize(out, recipe, rhash, plan, writer.progress.docs_done, resumed, time.monotonic() - t0,
                        writer.progress.deferred)
    summary.pool_exhausted = (summary.docs_done >= len(plan.docs)
                              and summary.tokens < budget * (1 - BUDGET_TOLERANCE))
    manifest = {"recipe": recipe.canonical(), "recipe_hash": rhash, "plan": plan.digest(),
                "counter": counter.fingerprint(), "versions": _versions(), "summary": summary.to_json(),
                "targets": plan.targets, "task_shares": plan.task_shares, "target_shares": plan.target_shares,
                "edges": plan.edges, "skipped_docs": plan.skipped, "verifier_usage": dict(verifier_usage),
                "store": store_record(store)}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    if report:
        from .report import write_report

        write_report(out)
    return summary


def store_record(store: PageStore) -> dict:
    """Which page store a build read: its path, the sha256 of its manifest.json and its document count."""
    import hashlib

    m = store.root / "manifest.json"
    return {"path": str(store.root.resolve()),
            "manifest_sha256": hashlib.sha256(m.read_bytes()).hexdigest() if m.exists() else "",
            "documents": len(store.doc_ids())}


def _committed_tasks(out: Path) -> dict[str, int]:
    """Instances per task in the committed parts (a resumed build's quota starts from them)."""
    from .parts import read_table

    return dict(Counter(read_table(out, "shards", ["task"]).column("task").to_pylist()))


def summarize(out: Path, recipe: Recipe, rhash: str, plan: Plan, docs_done: int, resumed: bool,
              seconds: float, deferred: dict[int, str] | None = None) -> BuildSummary:
    """Counts from the committed parts (what is on disk, not what this run did)."""
    from .parts import read_table

    s = read_table(out, "shards", ["task", "n_tokens"])
    rej = read_table(out, "rejected", ["reason"])
    qa = read_table(out, "qa", ["qa_id"])
    reasons = Counter(r.split(":", 1)[0] for r in rej.column("reason").to_pylist())
    return BuildSummary(out=str(out), recipe=recipe.name, recipe_hash=rhash, samples=s.num_rows,
                        tokens=int(sum(s.column("n_tokens").to_pylist())), budget_tokens=recipe.budget_tokens,
                        docs_done=docs_done, docs_planned=len(plan.docs), qa_kept=qa.num_rows,
                        rejected=rej.num_rows, by_task=dict(Counter(s.column("task").to_pylist())),
                        rejected_by_reason=dict(reasons), seconds=round(seconds, 2), resumed=resumed,
                        failed=len(deferred or {}), failed_by_reason=dict(Counter(
                            ":".join(r.split(":")[:2]) for r in (deferred or {}).values())))
