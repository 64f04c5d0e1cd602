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
                              for p in out.iterdir()):
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
          timeout_s: float | None = None, ray_address: str | None = None) -> BuildSummary:
    """Build (or resume building) the dataset of `recipe` over `store` into `out` (see the module docstring). `out`
    is held exclusively for the run (`run.outdir.claim`)."""
    from ..run.outdir import claim

    with claim(out, "build", "build"):
        return _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address)


def _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address) -> BuildSummary:
    from ..run import Failure, map_unordered

    t0 = time.monotonic()
    recipe = load_recipe(recipe)
    store = store if isinstance(store, PageStore) else PageStore(store)
    out = Path(out)
    executor, workers = choose_executor(recipe, executor, workers)
    counter = recipe.counter()
    rhash = recipe_hash(recipe, counter)
    plan = make_plan(recipe, store, counter)
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
                        nxt += 1
                        kept = []
                        for row in r.samples:
                            kept.append(row)
                            tokens += row["n_tokens"]
                            if tokens >= budget:
                                stop = True
                                break
                        kept_qa = {row["qa_id"] for row in kept}
                        writer.add(kept, [q for q in r.qa if q["qa_id"] in kept_qa], r.rejected)
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
    manifest = {"recipe": recipe.canonical(), "recipe_hash": rhash, "plan": plan.digest(),
                "counter": counter.fingerprint(), "versions": _versions(), "summary": summary.to_json(),
                "targets": plan.targets, "task_shares": plan.task_shares, "target_shares": plan.target_shares,
                "edges": plan.edges, "skipped_docs": plan.skipped}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    if report:
        from .report import write_report

        write_report(out)
    return summary


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
