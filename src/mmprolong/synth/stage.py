"""The synthesis stage on its own: page store -> verified QA records (schema.QA Parquet), kept and rejected alike.

`mmprolong build` synthesises inside its per-document stage; this stage is for a QA set by itself (to inspect, to
evaluate on with `mmprolong evaluate`, or to pay a teacher once before building). Documents stream from the store;
with the openai generator every document's items go through one `generate_many`, so `concurrency` requests stay
in flight ACROSS documents.

Output OUT/: qa/part-NNNNN.parquet (schema.QA, kept and rejected), _done/part-NNNNN.json (the doc_ids that part
completes, written after the Parquet by rename), report.md + report.png. A killed run resumes: documents listed in
_done are skipped, a part without its _done record is deleted and redone; nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..corpus.store import PageStore
from .base import GenerationItem
from .config import GeneratorConfig, VerifyConfig, make_generator
from .dedup import Deduper
from .record import QARecord
from .segments import choose_segment
from .tasks import check_task
from .verify import verify


@dataclass
class SynthSummary:
    out: str
    docs: int = 0                 # documents finished in this run (resumed ones excluded)
    docs_skipped: int = 0         # already done by an earlier run
    records: int = 0
    kept: int = 0
    by_task: dict = field(default_factory=dict)        # task -> [kept, total]
    failures: dict = field(default_factory=dict)       # check failure / generation error -> count
    verifier: dict = field(default_factory=dict)       # verifier model requests / tokens (none when it is off)
    seconds: float = 0.0


def _done_ids(out: Path) -> tuple[set[str], int]:
    """doc_ids completed by committed parts, and the next part number; removes uncommitted leftovers."""
    qa, done = out / "qa", out / "_done"
    qa.mkdir(parents=True, exist_ok=True)
    done.mkdir(parents=True, exist_ok=True)
    ids: set[str] = set()
    parts = set()
    for p in done.glob("part-*.json"):
        ids.update(json.loads(p.read_text()))
        parts.add(p.stem)
    for p in list(qa.glob("*")):
        if p.suffix == ".tmp" or p.stem not in parts:
            p.unlink()
    for p in done.glob("*.tmp"):
        p.unlink()
    return ids, (max(int(s.split("-")[1]) for s in parts) + 1) if parts else 0


def _commit(out: Path, part: int, rows: list[dict], doc_ids: list[str]) -> None:
    name = f"part-{part:05d}"
    tmp = out / "qa" / f"{name}.parquet.tmp"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema.QA), tmp, compression="zstd")
    os.replace(tmp, out / "qa" / f"{name}.parquet")
    dtmp = out / "_done" / f"{name}.json.tmp"
    dtmp.write_text(json.dumps(doc_ids))
    os.replace(dtmp, out / "_done" / f"{name}.json")


def _error_row(item: GenerationItem, reason: str, generator: str) -> dict:
    """A generation failure is data too: an empty record whose checks_failed holds the reason."""
    return QARecord(doc_id=item.doc.doc_id, task=item.task, segment=item.segment, question="", answer="",
                    answer_format="None", evidence_pages=[], evidence_sources=[], generator=generator,
                    checks_failed=[f"generation:{reason}"]).to_row()


def synthesize(store: str | Path, out: str | Path, cfg: GeneratorConfig | dict, tasks: list[str] | None = None,
               per_doc: int = 3, seed: int = 0, min_pages: int = 8, max_pages: int = 15, docs_per_part: int = 64,
               progress: bool = True, report: bool = True, verify_cfg: VerifyConfig | dict | None = None
               ) -> SynthSummary:
    """`per_doc` items per document, tasks taken in turn from `tasks`, each from its own segment. With `verify_cfg`
    (kind openai) every item is also checked by the verifier model (synth/verifier.py)."""
    from ..run.outdir import claim

    with claim(out, "synth", "synth"):   # one writer; never into a folder of another kind
        return _synthesize(store, out, cfg, tasks, per_doc, seed, min_pages, max_pages, docs_per_part, progress,
                           report, verify_cfg)


def _synthesize(store: str | Path, out: str | Path, cfg: GeneratorConfig | dict, tasks: list[str] | None = None,
                per_doc: int = 3, seed: int = 0, min_pages: int = 8, max_pages: int = 15, docs_per_part: int = 64,
                progress: bool = True, report: bool = True, verify_cfg: VerifyConfig | dict | None = None
                ) -> SynthSummary:
    from .verifier import make_verifier

    cfg = GeneratorConfig(**cfg) if isinstance(cfg, dict) else cfg
    tasks = [check_task(t) for t in (tasks or ["extract-single", "extract-multi", "reasoning"])]
    if per_doc < 1:
        raise ValueError(f"per_doc must be >= 1, got {per_doc}")
    out = Path(out)
    st = PageStore(store)
    done, part = _done_ids(out)
    todo = [d for d in st.doc_ids() if d not in done]
    summary = SynthSummary(str(out), docs_skipped=len(done))
    gen = make_generator(cfg)
    verifier = make_verifier(verify_cfg)
    use: Counter = Counter()
    t0 = time.monotonic()
    lock = threading.Lock()
    expected: dict[str, int] = {}

    def items():
        for doc in st.iter_documents(with_images=cfg.kind == "openai" or verifier is not None, doc_ids=set(todo)):
            rng = random.Random(f"{seed}:{doc.doc_id}")
            with lock:
                expected[doc.doc_id] = per_doc
            for k in range(per_doc):
                task = tasks[k % len(tasks)]
                yield GenerationItem(doc, choose_segment(doc, rng, min_pages, max_pages), task, rng.getrandbits(32))

    results: dict[str, list] = {}
    rows: list[dict] = []
    ids: list[str] = []
    by_task: dict[str, list[int]] = {t: [0, 0] for t in tasks}
    fails: Counter = Counter()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    bar = Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TextColumn("docs"), TimeElapsedColumn(),
                   disable=not progress, transient=False)
    with bar:
        task_id = bar.add_task("synth", total=len(todo))
        for res in gen.generate_many(items()):
            results.setdefault(res.doc_id, []).append(res)
            with lock:
                complete = len(results[res.doc_id]) == expected.get(res.doc_id)
            if not complete:
                continue
            doc_results = sorted(results.pop(res.doc_id), key=lambda r: r.index)
            doc = doc_results[0].item.doc
            dedup = Deduper()
            for r in doc_results:
                if r.error:
                    rows.append(_error_row(r.item, r.error, gen.name))
                    fails[f"generation:{r.error}"] += 1
                    by_task[r.task][1] += 1
                    continue
                for qa in r.records:
                    v = verify(qa, doc, dedup, verifier=verifier, usage=use)
                    rows.append(v.to_row())
                    by_task[qa.task][0] += v.ok
                    by_task[qa.task][1] += 1
                    fails.update(v.checks_failed)
            ids.append(res.doc_id)
            summary.docs += 1
            bar.advance(task_id)
            if len(ids) >= docs_per_part:
                _commit(out, part, rows, ids)
                part, rows, ids = part + 1, [], []
        if ids:
            _commit(out, part, rows, ids)
    gen.close()
    if verifier is not None:
        verifier.close()
    summary.verifier = dict(use)
    summary.records = sum(t[1] for t in by_task.values())
    summary.kept = sum(t[0] for t in by_task.values())
    summary.by_task, summary.failures = by_task, dict(fails.most_common())
    summary.seconds = round(time.monotonic() - t0, 2)
    if report:
        write_report(out)
    return summary


def write_report(out: str | Path) -> Path:
    """report.md + report.png over every committed part (this run and earlier ones)."""
    out = Path(out)
    files = sorted(str(p) for p in (out / "qa").glob("part-*.parquet"))
    rows = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []
    tasks = sorted({r["task"] for r in rows})
    kept = Counter(r["task"] for r in rows if not r["checks_failed"])
    total = Counter(r["task"] for r in rows)
    fails = Counter(f for r in rows for f in r["checks_failed"])
    lines = ["# Synthesis report", "", f"{len(rows)} records, {sum(kept.values())} pass every check.", "",
             "| task | records | kept | kept % |", "|---|---:|---:|---:|"]
    for t in tasks:
        lines.append(f"| {t} | {total[t]} | {kept[t]} | {100 * kept[t] / max(1, total[t]):.1f}% |")
    lines += ["", "| failure | count |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in fails.most_common()]
    lines += ["", "![kept and rejected per task](report.png)", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(tasks, [kept[t] for t in tasks], label="kept")
    ax.bar(tasks, [total[t] - kept[t] for t in tasks], bottom=[kept[t] for t in tasks], label="rejected")
    ax.set_ylabel("QA records")
    ax.set_title("synthesis: verified vs rejected")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "report.png", dpi=110)
    plt.close(fig)
    return md
