"""`build`: recipe + page store -> training shards, kept QA, rejections, manifest and data report.

plan (deterministic, see planner.py) -> for each planned document the driver sends a `DocItem` (plan index, doc_id,
docs row, the row groups holding its pages as the row names them, slots: about a kilobyte, never a page) ->
`DocumentJob` on the chosen executor (default: the local process pool; with the openai generator,
`generator.concurrency` threads, so that many teacher requests stay in flight; see `choose_executor`) reads its own
document (`corpus.store.read_document`), runs `process_document`, stages its sample rows with their images in
OUT/_staging/ and returns light rows -> results put back in plan order, the mix and budget applied (quota.py) ->
committed as numbered parts (parts.py), each assembled from the staged rows kept -> stop at the exact token budget
-> manifest.json -> report/.

Where a part is assembled (`parts.write_part`): on a Ray build, a Ray task on the cluster, so no image byte passes
through the driver; with the local pool or threads, in the driver process: the data is on this machine's disk
either way, the pool's workers are busy with documents, and the write is the same one read and one write per image
that the driver did before (minus shipping each document to a worker and back).

Results are consumed in plan order whatever finishes first, so the output does not depend on the executor or the
number of workers: the same recipe and store give the same part files, byte for byte. A killed build run again with
the same arguments goes on from its last committed part. OUT may be a local folder or an fsspec URL (s3://...,
memory://): every read and commit goes through storage.py; workers must reach OUT (a shared folder or a bucket on
a cluster).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import platform
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from .. import __version__, storage
from ..corpus.store import PageStore, row_location
from ..recipe import Recipe, load_recipe, recipe_hash
from ..run.outdir import is_bookkeeping
from .document import DocItem, DocumentJob
from .parts import PROGRESS, STAGING, TABLES, PartWriter
from .planner import Plan, PlannedDocs, make_plan
from .quota import BUDGET_TOLERANCE, Quota, Steer, steer_lag

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
OWN_DIRS = {*TABLES, PROGRESS, STAGING}


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
    dedup: str = ""             # "ran" (this build deduplicated the store), "current" (it was), "off" (--no-dedup)
    near_duplicates_removed: int = 0   # documents the plan left out as near-duplicates (pool and eval)

    def to_json(self) -> dict:
        return asdict(self)


def _versions() -> dict[str, str]:
    import pyarrow

    return {"mmprolong": __version__, "python": platform.python_version(), "pyarrow": pyarrow.__version__}


def _check_out(out: str, digest: str) -> None:
    """An OUT folder holds one build: refuse to mix a different recipe or plan into it."""
    rec = storage.join(out, PROGRESS, "build.json")
    if storage.exists(rec):
        prev = json.loads(storage.read_text(rec))
        if prev["digest"] != digest:
            raise ValueError(f"{out} holds a build of another recipe or store (recipe hash {prev['recipe_hash']}, "
                             f"plan {prev['plan']}); use a new --out or delete it")
        return
    for name in storage.listdir(out) if storage.isdir(out) else []:
        if is_bookkeeping(name):   # the lock, log files
            continue
        p = storage.join(out, name)
        if not (name in OWN_DIRS and storage.isdir(p) and not storage.listdir(p)):
            raise ValueError(f"{out} exists and is not a build folder; use a new --out")


@contextlib.contextmanager
def _ray_session(executor: str, workers: int | None, ray_address: str | None):
    """For a Ray build: Ray up for the whole build (the document tasks and the part writes), started here (and
    shut down after) unless the caller runs one: joining `ray_address`, or a local Ray with `workers` CPUs."""
    if executor != "ray":
        yield
        return
    from ..run.ray_exec import ray_session

    with ray_session(workers, ray_address):
        yield


def _ray_part_writer():
    """`PartWriter.run_part` for a Ray build: each part is assembled by a Ray task (`parts.write_part`), reading
    the staged files and writing the part on the shared OUT, so no image byte passes through the driver. It takes
    no CPU slot (num_cpus=0): the document tasks hold them all, and the driver waits for the part."""
    import ray

    from .parts import write_part

    remote = ray.remote(num_cpus=0, max_retries=2)(write_part)

    def run(out, n, shards, qa, rejected):
        ray.get(remote.remote(out, n, shards, qa, rejected))

    return run


DOC_ROW_FIELDS = ("doc_id", "source", "n_pages", "title", "sections")
LOCATE_BATCH = 1024   # planned documents located at a time (the items are made lazily, as workers take them)


class _DocRows:
    """The docs rows a worker needs (DOC_ROW_FIELDS) and where each document's pages are, for the planned documents
    in plan order: one Arrow table whose row i is plan index i (matched by pyarrow's `index_in`, so the driver holds
    no per-document Python object and no store-wide page index); dicts are made only for the documents being
    sent."""

    def __init__(self, store: PageStore, plan_ids):
        import pyarrow as pa
        import pyarrow.compute as pc

        t = store.docs_table(columns=[*DOC_ROW_FIELDS, "pages_file", "page_row_groups"])
        ids = plan_ids if isinstance(plan_ids, (pa.Array, pa.ChunkedArray)) else pa.array(list(plan_ids), pa.string())
        self.table = t.take(pc.index_in(ids, value_set=t.column("doc_id")))   # null rows: not in the store
        self.pages_dir = storage.join(store.url, "pages")

    def get(self, indices: list[int]) -> list[tuple[dict | None, list | None]]:
        """(docs row or None, its pages' [(file, row group)] or None when the row does not say) per plan index."""
        import pyarrow as pa

        out = []
        for r in self.table.take(pa.array(indices, pa.int64())).to_pylist():
            if r["doc_id"] is None:
                out.append((None, None))
                continue
            out.append((r, row_location(self.pages_dir, r.pop("pages_file"), r.pop("page_row_groups"))))
        return out


def _items(store: PageStore, plan: Plan, indices, rows: _DocRows) -> Iterator[tuple]:
    """(plan index, doc_id, docs row, pages' location, slots) for these plan indices, in the order given,
    LOCATE_BATCH documents at a time, as the workers take them: the location from the docs row itself (every store
    the current writer makes), else from `PageStore.locate` (older stores). Never the pages themselves: each worker
    reads its own document."""
    indices = iter(indices)
    while chunk := list(itertools.islice(indices, LOCATE_BATCH)):
        docs = [plan.docs[i] for i in chunk]
        got = rows.get(chunk)
        unlocated = {d.doc_id for d, (r, loc) in zip(docs, got) if loc is None}
        where = store.locate(unlocated) if unlocated else {}
        for i, d, (r, loc) in zip(chunk, docs, got):
            yield i, d.doc_id, r, loc if loc is not None else (where.get(d.doc_id) or []), d.slots


class _Steered:
    """The items of a build, each document's slot tasks chosen by `Steer` `lag` documents ahead of the consumer.

    `decide()` (called once per document consumed, in plan order, and `lag` times at the start) chooses the next
    document's tasks; the executor takes only documents already chosen for. When it asks for one that is not
    chosen yet, this iterator pauses (raises StopIteration without being exhausted): the executors ask again after
    each result, and with nothing in flight every document taken has been consumed, so the next one is chosen by
    then. Choices made before a resume (`ready`) are used again as they were."""

    def __init__(self, base: Iterator[tuple], steer: Steer, ready: dict[int, tuple[list, list]]):
        self.base, self.steer, self.ready = base, steer, ready
        self.chosen: deque[DocItem] = deque()
        self.pos = 0
        self.exhausted = False

    def decide(self) -> None:
        from dataclasses import replace

        got = next(self.base, None)
        if got is None:
            self.exhausted = True
            return
        i, doc_id, row, loc, slots = got
        if i in self.ready:
            tasks, order = self.ready.pop(i)
            self.steer.ahead[i] = (tasks, order)
        else:
            tasks, order = self.steer.choose(i, len(slots))
        slots = [replace(s, task=t) for s, t in zip(slots, tasks)]
        self.chosen.append(DocItem(self.pos, i, doc_id, row, loc if row is not None else [], slots, order))
        self.pos += 1

    def __iter__(self):
        return self

    def __next__(self) -> DocItem:
        if self.chosen:
            return self.chosen.popleft()
        raise StopIteration   # exhausted, or paused until the consumer catches up (see the class docstring)


def _take_document(quota: Quota, reserve: list[dict], r, writer: PartWriter) -> bool:
    """Apply the mix and the budget to one document's instances, in plan order (quota.py); True when the build
    stops. An instance the mix cannot take yet (its task ahead) is not left out but held in `reserve` (its staged
    file kept, `writer.held`) and taken, oldest first, as soon as the mix allows: no verified instance is thrown
    away for the mix, only those still held when the build ends."""
    stop = _drain(quota, reserve, writer)
    kept, kept_rows, left_out = [], [], []
    qa_rows = {q["qa_id"]: q for q in r.qa}
    for k, row in enumerate(r.samples if not stop else ()):
        left = quota.take(row["task"], row["n_tokens"])
        if left is None:
            kept.append(row)
            kept_rows.append(k)
        elif (left.startswith("mix:") and r.staged is not None and not quota.stop
              and quota.shares.get(row["task"], 0) > 0):
            reserve.append({"row": row, "k": k, "url": r.staged, "qa": qa_rows[row["qa_id"]], "reason": left})
        elif not quota.stop:
            left_out.append(qa_rows[row["qa_id"]] | {"reason": left})
        if quota.stop:
            stop = True
            break
    kept_qa = {row["qa_id"] for row in kept}
    qa_kept = [q for q in r.qa if q["qa_id"] in kept_qa]
    if r.staged is None:   # no sample, or rows held here (never in a build)
        writer.add(kept, qa_kept, r.rejected + left_out)
    else:
        writer.add_staged(r.staged, kept, kept_rows, qa_kept, r.rejected + left_out)
    stop = stop or _drain(quota, reserve, writer)
    writer.held = {e["url"] for e in reserve}
    return stop


def _drain(quota: Quota, reserve: list[dict], writer: PartWriter) -> bool:
    """Take the reserve's instances the mix now allows, oldest first, until none is taken; True when the budget
    stops the build."""
    taken = True
    while taken and reserve and not quota.stop:
        taken = False
        for e in list(reserve):
            left = quota.take(e["row"]["task"], e["row"]["n_tokens"])
            if left is None:
                writer.add_staged(e["url"], [e["row"]], [e["k"]], [e["qa"]], [])
            elif left.startswith("mix:"):
                continue
            elif not quota.stop:   # too long for what is left of the budget
                writer.add_staged(None, [], [], [], [e["qa"] | {"reason": left}])
            reserve.remove(e)
            taken = left is None
            if quota.stop:
                return True
    return quota.stop


def _resume_state(steer: Steer, reserve: list[dict], writer: PartWriter, docs_done: int) -> dict:
    """What a resumed build needs besides the committed parts: the steering and the reserve (quota.py)."""
    return {"steer": steer.snapshot(docs_done), "reserve": reserve, "held": sorted(writer.held)}


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
          preflight: bool = True, keep_near_duplicates: bool = False, dedup: bool = True) -> BuildSummary:
    """Build (or resume building) the dataset of `recipe` over `store` into `out` (see the module docstring). `out`
    is held exclusively for the run (`run.outdir.claim`).

    Setup first: with the openai generator, `preflight` checks key, server, model and one tiny request before
    anything is planned or written (SetupError naming the cause). A document whose generation failed (a transport
    failure or a setup error, not a rejected reply) is never done: it is deferred, written nowhere, and retried by
    the next run; a document over the `timeout_s` deadline or whose worker died is deferred too and retried with
    `retry_failed`. `max_consecutive_failures` failures of the same kind in a row stop the build (SetupError with
    that cause) after committing what was done.

    `dedup`: a store whose near-duplicates were never found (or that changed since) is deduplicated first
    (corpus/dedup/, on the build's executor); False builds without it and keeps pool near-duplicates (eval ones
    recorded earlier stay out). The summary says which and how many documents near-duplicates removed."""
    from ..run.outdir import claim

    if max_consecutive_failures < 1:
        raise ValueError(f"max_consecutive_failures: must be >= 1, got {max_consecutive_failures}")
    with claim(out, "build", "build"):
        return _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address,
                      max_consecutive_failures, retry_failed, preflight, keep_near_duplicates, dedup)


def check_generator(recipe: Recipe) -> None:
    """Raise SetupError when the recipe's generator cannot work (see OpenAIGenerator.preflight)."""
    if recipe.generator.kind != "openai":
        return
    from .document import _generator

    _generator(json.dumps(recipe.generator.settings(), sort_keys=True)).preflight()


def _retryable(reason: str, retry_failed: bool) -> bool:
    return reason.startswith("generation-failed") or retry_failed


def _build(recipe, store, out, executor, workers, progress, report, timeout_s, ray_address,
           max_consecutive, retry_failed, preflight, keep_near_duplicates, dedup) -> BuildSummary:
    from itertools import chain

    from ..errors import SetupError
    from ..run import Failure, map_unordered

    t0 = time.monotonic()
    recipe = load_recipe(recipe)
    if preflight:
        check_generator(recipe)
    store = store if isinstance(store, PageStore) else PageStore(store)
    out = storage.normalize(out) if not isinstance(out, Path) else str(out)
    executor, workers = choose_executor(recipe, executor, workers)
    if storage.protocol(out) == "memory" and executor != "threads":
        raise ValueError(f"{out}: memory:// lives in one process; workers of the {executor} executor cannot "
                         "reach it (use --executor threads)")
    counter = recipe.counter()
    rhash = recipe_hash(recipe, counter)
    dedup_state = deduplicate(store, executor, workers, ray_address, progress) if dedup else "off"
    plan = make_plan(recipe, store, counter, keep_near_duplicates or not dedup)
    digest = f"{rhash}:{plan.digest()}"
    _check_out(out, digest)
    storage.makedirs(storage.join(out, PROGRESS))
    storage.write_text(storage.join(out, PROGRESS, "build.json"), json.dumps(
        {"digest": digest, "recipe_hash": rhash, "plan": plan.digest()}))
    writer = PartWriter(out)
    resumed = writer.progress.parts > 0
    storage.write_text(storage.join(out, "plan.json"), json.dumps(plan.to_json(), indent=1))
    staging = os.fspath(storage.local_path(out).absolute()) if storage.is_local(out) else out   # for every worker
    job = DocumentJob(recipe, rhash, plan.edges, staging=staging)
    budget = recipe.budget_tokens
    start = writer.progress.docs_done
    tokens = writer.progress.tokens
    verifier_usage: Counter = Counter()   # model-verification requests and tokens (earlier runs of this build too)
    if resumed and storage.exists(storage.join(out, MANIFEST)):
        verifier_usage.update(json.loads(storage.read_text(storage.join(out, MANIFEST))).get("verifier_usage") or {})
    quota = Quota(plan.task_shares, budget, _committed_tasks(out) if resumed else {}, tokens)
    # verified instances the mix could not take yet, taken as soon as it can (kept across a resume)
    reserve: list[dict] = list(writer.progress.extra.get("reserve", [])) if resumed else []
    steer = Steer(plan.task_shares, quota.counts, reserved=Counter(e["row"]["task"] for e in reserve))
    ready = steer.restore(writer.progress.extra.get("steer", {})) if resumed else {}
    deferred = dict(writer.progress.deferred)
    retry = sorted(i for i, r in deferred.items() if _retryable(r, retry_failed))
    main_left = not writer.progress.finished
    stopped: str = ""
    if (main_left or retry) and tokens < budget:
        with _ray_session(executor, workers, ray_address), _progress_bar(progress) as bar:
            if executor == "ray":
                writer.run_part = _ray_part_writer()
            task = bar.add_task(f"{tokens:,} tokens", total=len(plan.docs) + len(retry),
                                completed=start + len(deferred) - len(retry))
            pending: dict[int, tuple] = {}   # position -> (plan index, result or None, why not, generation events)
            nxt = 0              # next position to consume (retried documents first, then the plan from `start`)
            docs_done = start
            stop = False
            streak_kind, streak, streak_text = "", 0, ""
            rows = _DocRows(store, plan.docs.doc_ids if isinstance(plan.docs, PlannedDocs)
                            else [d.doc_id for d in plan.docs])
            order = chain(retry, range(start, len(plan.docs)) if main_left else ())
            items = _Steered(_items(store, plan, order, rows), steer, ready)
            for _ in range(steer_lag(len(plan.docs))):
                items.decide()
            results = map_unordered(job, items, executor=executor, workers=workers, timeout_s=timeout_s,
                                    ray_address=ray_address)
            try:
                for item, res in results:
                    pos, i = item.position, item.index
                    if isinstance(res, Failure):
                        kind = f"document-{res.kind}"
                        pending[pos] = (i, None, f"document-failed: {res}", [kind])
                    elif any(res.events):
                        pending[pos] = (i, None, f"generation-failed: {res.failure}", [e for e in res.events if e])
                    else:
                        pending[pos] = (i, res, "", res.events)
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
                            stop = _take_document(quota, reserve, r, writer) or stop
                            tokens = quota.tokens
                        steer.consumed(i, [row["task"] for row in r.samples] if r is not None else [])
                        steer.reserved = Counter(e["row"]["task"] for e in reserve)
                        items.decide()   # the next document's tasks, from the deficit now (quota.Steer)
                        bar.update(task, advance=1, description=f"{tokens:,} tokens")
                        if streak >= max_consecutive:
                            stopped = (f"{streak} consecutive generation failures of the same kind "
                                       f"({streak_kind}); last: {streak_text}")
                            stop = True
                        if writer.full(recipe.shard_size):
                            writer.progress.extra = _resume_state(steer, reserve, writer, docs_done)
                            writer.commit(docs_done, deferred=deferred)
                    if stop:
                        break
            finally:
                if hasattr(results, "close"):
                    results.close()
            if tokens >= budget or quota.stop:
                deferred = {}   # the budget is met: nothing waits any more
            done = tokens >= budget or quota.stop or docs_done >= len(plan.docs)
            if done and not stopped:   # what the reserve still holds is left out for the mix, as before
                for e in reserve:
                    writer.add_staged(None, [], [], [], [e["qa"] | {"reason": e["reason"]}])
                reserve.clear()
                writer.held.clear()
            writer.progress.extra = _resume_state(steer, reserve, writer, docs_done)
            writer.commit(docs_done, finished=not stopped and done, deferred=deferred)
            writer.clear_staging()   # documents not committed (deferred, or past a stop) are redone by a rerun
    if stopped:
        from ..redact import redact

        hint = "; fix the cause and run the same command again (what failed is retried)"
        if "document-" in stopped:
            hint += " with --retry-failed"
        raise SetupError(redact(f"build stopped: {stopped}")[:600] + hint)
    summary = summarize(out, recipe, rhash, plan, writer.progress.docs_done, resumed, time.monotonic() - t0,
                        writer.progress.deferred)
    summary.dedup = dedup_state
    summary.near_duplicates_removed = sum(v for k, v in plan.skipped.items() if k.startswith("near-duplicate"))
    summary.pool_exhausted = (summary.docs_done >= len(plan.docs)
                              and summary.tokens < budget * (1 - BUDGET_TOLERANCE))
    manifest = {"recipe": recipe.canonical(), "recipe_hash": rhash, "plan": plan.digest(),
                "counter": counter.fingerprint(), "versions": _versions(), "summary": summary.to_json(),
                "targets": plan.targets, "task_shares": plan.task_shares, "target_shares": plan.target_shares,
                "edges": plan.edges, "skipped_docs": plan.skipped, "verifier_usage": dict(verifier_usage),
                "store": store_record(store)}
    storage.write_text(storage.join(out, MANIFEST), json.dumps(manifest, indent=1))
    if report:
        from .report import write_report

        write_report(out)
    return summary


def deduplicate(store: PageStore, executor: str, workers: int | None, ray_address: str | None,
                progress: bool = False) -> str:
    """Find the store's near-duplicates before planning unless they are current: "ran" or "current". On the
    build's executor: Ray stays Ray; threads (which wait on a teacher) become the local process pool on all cores
    (corpus/dedup/ does a small store in this process)."""
    from ..corpus.dedup import ensure_dedup

    if executor not in ("ray", "local"):
        executor, workers = "local", None
    state = ensure_dedup(store.url, executor=executor, workers=workers, ray_address=ray_address, progress=progress)
    return "ran" if state["ran"] else "current"


def store_record(store: PageStore) -> dict:
    """Which page store a build read: its path, the sha256 of its manifest.json and its document count."""
    import hashlib

    root = store.url
    m = storage.join(root, "manifest.json")
    path = os.fspath(storage.local_path(root).resolve()) if storage.is_local(root) else root
    return {"path": path,
            "manifest_sha256": hashlib.sha256(storage.read_bytes(m)).hexdigest() if storage.exists(m) else "",
            "documents": len(store.doc_ids())}


def _committed_tasks(out) -> dict[str, int]:
    """Instances per task in the committed parts (a resumed build's quota starts from them)."""
    from .parts import read_table

    return dict(Counter(read_table(out, "shards", ["task"]).column("task").to_pylist()))


def summarize(out, recipe: Recipe, rhash: str, plan: Plan, docs_done: int, resumed: bool,
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
