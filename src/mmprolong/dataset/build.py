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
    elif out.exists() and any(not (p.is_dir() and p.name in OWN_DIRS and not any(p.iterdir())) and not
                              p.name.startswith("mmprolong.") for p in out.iterdir()):  # log files (logs.log_to)
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


def build(recipe: Recipe | str | Path, store: PageStore | str | Path, out: str | Path, executor: str | None = None,
          workers: int | None = None, progress: bool = True, report: bool = True,
          timeout_s: float | None = None, ray_address: str | None = None,
          keep_near_duplicates: bool = False) -> BuildSummary:
    """Build (or resume building) the dataset of `recipe` over `store` into `out` (see the module docstring)."""
    from ..run import Failure, map_unordered

    t0 = time.monotonic()
    recipe = load_recipe(recipe)
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
    if not writer.progress.finished:
        with _progress_bar(progress) as bar:
            task = bar.add_task(f"{tokens:,} tokens", total=len(plan.docs), completed=start)
            pending: dict[int, DocResult] = {}
            nxt = start
            stop = tokens >= budget
            results = map_unordered(job, _items(store, plan, start), executor=executor, workers=workers,
                                    timeout_s=timeout_s, ray_address=ray_address) if not stop else iter(())
            try:
                for (i, doc_id, doc, slots), res in results:
                    if isinstance(res, Failure):
                        r = DocResult(doc_id)
                        for s in slots:
                            r.reject(f"document-failed: {res}", s.task)
                        res = r
                    pending[i] = attach_images(res, doc)
                    while nxt in pending and not stop:
                        r = pending.pop(nxt)
                        verifier_usage.update(r.verifier)
                        nxt += 1
                        kept, left_out = [], []
                        qa_rows = {q["qa_id"]: q for q in r.qa}
                        for row in r.samples:   # plan order: the mix and the budget are held here (quota.py)
                            why = quota.take(row["task"], row["n_tokens"])
                            if why is None:
                                kept.append(row)
                            elif not quota.stop:
                                left_out.append(qa_rows[row["qa_id"]] | {"reason": why})
                            if quota.stop:
                                stop = True
                                break
                        tokens = quota.tokens
                        kept_qa = {row["qa_id"] for row in kept}
                        writer.add(kept, [q for q in r.qa if q["qa_id"] in kept_qa], r.rejected + left_out)
                        bar.update(task, completed=nxt, description=f"{tokens:,} tokens")
                        if writer.full(recipe.shard_size):
                            writer.commit(nxt)
                    if stop:
                        break
            finally:
                if hasattr(results, "close"):
                    results.close()
            writer.commit(nxt, finished=True)
    summary = summarize(out, recipe, rhash, plan, writer.progress.docs_done, resumed, time.monotonic() - t0)
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
              seconds: float) -> BuildSummary:
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
                        rejected_by_reason=dict(reasons), seconds=round(seconds, 2), resumed=resumed)
