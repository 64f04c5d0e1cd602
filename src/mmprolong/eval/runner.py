"""Run a backend over an eval set: predictions.jsonl, appended per answer, so a killed run resumes losslessly.

What the backend returns (prediction and error text) goes through `redact` before it is written, so a key a server
echoes never reaches the file.

On restart, instances whose last row has no error are skipped; failed ones are tried again (the last row for an
instance wins when scoring). Rows carry everything scoring and reports need, so they never reopen the set.

The set (and the page store) may be fsspec URLs (`mmprolong.storage`); the run folder is local only: appending
one answer at a time and cutting a torn last line are not object-storage operations (`require_local`).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from .. import storage
from ..durable import repair_tail
from ..corpus.store import PageStore
from ..redact import redact
from ..tokens import TokenCounter
from .instance import EvalInstance, read_instances, read_manifest
from .images import ImageResolver
from .prompt import PromptConfig, build_messages

PREDICTIONS = "predictions.jsonl"
RUN = "run.json"


def require_local(path: str | Path, what: str = "an eval run folder") -> None:
    """OutputError (one line) when `path` is a URL: run folders (eval run, score) and report folders are local."""
    from ..errors import OutputError

    if not storage.is_local(path):
        raise OutputError(f"{path}: {what} must be a local folder (a run's predictions are appended one answer "
                          "at a time, which object storage cannot do); eval sets and page stores may be URLs")


def read_predictions(run_dir: str | Path) -> dict[str, dict]:
    """Last row per instance_id (a resumed run may have retried some)."""
    p = Path(run_dir)
    p = p / PREDICTIONS if p.is_dir() else p
    rows: dict[str, dict] = {}
    if p.exists():
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: that instance is simply redone
                    continue
                rows[r["instance_id"]] = r
    return rows


def instance_messages(inst: EvalInstance, prompt: PromptConfig, page_text=None) -> list[dict]:
    msgs = build_messages(inst.context, inst.question, prompt, page_text, doc_name=inst.doc_name)
    if inst.max_pixels is not None:
        for m in msgs:
            for p in TokenCounter.iter_images([m]):
                p["max_pixels"] = inst.max_pixels
    return msgs


def check_inputs(set_dir: str | Path, backend, store: PageStore | None) -> None:
    """Before a run: the set's store pages need a store (SetupError naming --store), the backend must answer
    (its `check()`, when it has one)."""
    from ..errors import SetupError

    if store is None:
        for inst in read_instances(set_dir):
            if inst.pages():
                raise SetupError(f"{set_dir}: the set's instances are made of page-store pages; pass --store "
                                 "(the page store the set was built from)")
    if hasattr(backend, "check"):
        backend.check()


def run_eval(set_dir: str | Path, backend, out: str | Path, store: PageStore | None, counter: TokenCounter,
             limit: int | None = None, lengths: list[int] | None = None, progress: bool = True) -> dict:
    """Answer every instance of the set (or the first `limit` per length); returns counts. The run folder is held
    exclusively for the run (`run.outdir.claim`)."""
    from ..run.outdir import claim

    require_local(out)
    with claim(out, "eval-run", "eval run"):
        return _run_eval(set_dir, backend, out, store, counter, limit, lengths, progress)


def _run_eval(set_dir, backend, out, store, counter, limit, lengths, progress) -> dict:
    from rich.progress import Progress

    set_dir, out = storage.normalize(set_dir), storage.local_path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(set_dir)
    prompt = PromptConfig(**manifest.get("prompt", {}))
    insts = [i for i in read_instances(set_dir) if not lengths or i.target_length in lengths]
    if limit:
        seen: dict[int, int] = {}
        keep = []
        for i in insts:
            seen[i.target_length] = seen.get(i.target_length, 0) + 1
            if seen[i.target_length] <= limit:
                keep.append(i)
        insts = keep
    repair_tail(out / PREDICTIONS)
    done = {k for k, r in read_predictions(out).items() if not r.get("error")}
    todo = [i for i in insts if i.instance_id not in done]
    (out / RUN).write_text(json.dumps({"backend": backend.name, "config": backend.describe(),
                                       "set": str(set_dir), "set_manifest": manifest}, indent=2, default=str))
    resolver = ImageResolver(store, set_dir, counter)
    n_ok = n_err = 0

    def answer(inst: EvalInstance) -> dict:
        t0 = time.perf_counter()
        row = {"instance_id": inst.instance_id, "dataset": inst.dataset, "kind": inst.kind, "task": inst.task,
               "target_length": inst.target_length, "n_tokens": inst.n_tokens, "depth": inst.depth,
               "question": inst.question, "answer": inst.answer, "answer_format": inst.answer_format,
               "model": backend.name, "prediction": None, "error": ""}
        try:
            page_text = None
            if prompt.include_page_text:
                resolver.prefetch(inst.pages())
                page_text = resolver.page_text
            msgs = instance_messages(inst, prompt, page_text)
            images = resolver.images(msgs)
            # redacted like errors: a gateway may echo the key inside a 200 answer
            row["prediction"] = redact(backend.generate(msgs, images))
            if getattr(backend, "last_n_tokens", None) is not None:
                row["n_tokens_sent"] = backend.last_n_tokens  # what the model actually read (hf)
        except Exception as e:  # recorded, retried on resume; never fatal for the run
            row["error"] = redact(f"{type(e).__name__}: {e}")[:500]
        row["seconds"] = round(time.perf_counter() - t0, 3)
        return row

    with open(out / PREDICTIONS, "a") as f, Progress(disable=not progress) as bar:
        task = bar.add_task(f"eval {backend.name}", total=len(todo))

        def write(row: dict) -> None:
            nonlocal n_ok, n_err
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            n_ok += not row["error"]
            n_err += bool(row["error"])
            bar.advance(task)

        if backend.concurrency <= 1:
            for inst in todo:
                write(answer(inst))
        else:
            with ThreadPoolExecutor(backend.concurrency) as pool:
                pending = set()
                it = iter(todo)
                for inst in it:
                    pending.add(pool.submit(answer, inst))
                    if len(pending) >= 2 * backend.concurrency:
                        fin, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fu in fin:
                            write(fu.result())
                for fu in pending:
                    write(fu.result())
    return {"instances": len(insts), "skipped_done": len(insts) - len(todo), "answered": n_ok, "errors": n_err}
