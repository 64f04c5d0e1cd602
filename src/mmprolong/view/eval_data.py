"""Eval sets and eval runs for the view.

A set's instances.jsonl is indexed once (the filter fields and each line's byte offset); an instance's context
(hundreds of page references at 512K) is parsed only when that instance is shown. A run joins its predictions
(RUN/predictions.jsonl, last row per instance), its scores (RUN/scored.jsonl, when scored) and, through run.json,
the set it ran. Page images come from the page store given with --store (runs do not record it).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from .. import storage
from .pages import PageSource, mark, needles_for

log = logging.getLogger(__name__)

FILTERS = ("length", "format", "score", "dataset", "kind")


def _score_class(r: dict) -> str:
    if r.get("error") or r.get("failed"):
        return "failed"
    s = r.get("score")
    if s is None:
        return "unscored"
    return "1" if s >= 1 else "0" if s <= 0 else "partial"


def _match(r: dict, q: dict) -> bool:
    return ((not q.get("length") or str(r.get("target_length")) == str(q["length"]))
            and (not q.get("format") or r.get("answer_format") == q["format"])
            and (not q.get("dataset") or r.get("dataset") == q["dataset"])
            and (not q.get("kind") or r.get("kind") == q["kind"])
            and (not q.get("score") or _score_class(r) == q["score"]))


def _facets(rows: list[dict]) -> dict:
    return {"length": dict(Counter(str(r.get("target_length")) for r in rows)),
            "format": dict(Counter(r.get("answer_format") or "" for r in rows)),
            "dataset": dict(Counter(r.get("dataset") or "" for r in rows)),
            "kind": dict(Counter(r.get("kind") or "doc" for r in rows)),
            "score": dict(Counter(_score_class(r) for r in rows))}


class EvalSetData:
    kind = "eval-set"
    SMALL = ("instance_id", "dataset", "kind", "task", "target_length", "n_tokens", "depth", "question", "answer",
             "answer_format", "doc_id", "doc_name", "evidence_pages")

    def __init__(self, folder: str | Path, store: str | Path | None = None):
        self.folder = storage.normalize(folder)
        self.title = f"eval set {Path(str(folder)).name}"
        self.pages = PageSource(store)
        self.rows: list[dict] = []
        self.offsets: dict[str, int] = {}
        path = storage.join(self.folder, "instances.jsonl")
        if not storage.exists(path):
            raise FileNotFoundError(f"{folder}: no instances.jsonl (an eval set is written by `mmprolong eval build`)")
        self.path = path
        with storage.open_input(path) as f:
            pos = 0
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    row = {k: d.get(k) for k in self.SMALL}
                    row["n_context_pages"] = sum(1 for c in d.get("context", []) if "doc_id" in c)
                    self.rows.append(row)
                    self.offsets[row["instance_id"]] = pos
                pos += len(line)
        self.by_id = {r["instance_id"]: r for r in self.rows}

    def instance(self, iid: str) -> dict:
        with storage.open_input(self.path) as f:
            f.seek(self.offsets[iid])
            return json.loads(f.readline())

    def info(self) -> dict:
        return {"kind": self.kind, "title": self.title, "path": str(self.folder), "store": self.pages.path,
                "store_error": self.pages.error, "n": len(self.rows), "facets": _facets(self.rows)}

    def items(self, q: dict) -> dict:
        rows = [r for r in self.rows if _match(r, q)]
        offset, limit = max(0, int(q.get("offset", 0))), min(500, max(1, int(q.get("limit", 50))))
        return {"total": len(rows), "offset": offset, "limit": limit, "items": rows[offset:offset + limit]}

    def item(self, iid: str) -> dict:
        inst = self.instance(iid)
        return {**{k: v for k, v in inst.items() if k != "context"}, **self._context(inst)}

    def _context(self, inst: dict) -> dict:
        """The documents in the context (name, pages) and the gold document's evidence pages with marked text."""
        docs: dict[str, dict] = {}
        for c in inst.get("context", []):
            if "doc_id" in c:
                d = docs.setdefault(c["doc_id"], {"doc_id": c["doc_id"], "name": c.get("name", ""), "pages": []})
                d["pages"].append(int(c["page"]))
        gold = inst.get("doc_id") or ""
        ev = sorted({int(p) for p in inst.get("evidence_pages") or []})
        texts = self.pages.texts(gold, ev) if gold else {}
        evidence = [{"doc_id": gold, "page": p, "segments": mark(texts.get(p, ""), needles_for(p, "", inst.get(
            "answer", ""), []))} for p in ev]
        return {"context_docs": list(docs.values()), "evidence_text": evidence,
                "needles": [c for c in inst.get("context", []) if "asset" in c or "text" in c][:20]}


class EvalRunData:
    kind = "eval-run"

    def __init__(self, folder: str | Path, store: str | Path | None = None):
        from ..eval.runner import read_predictions

        self.folder = Path(folder)
        self.title = f"eval run {self.folder.name}"
        self.pages = PageSource(store)
        run = {}
        if (self.folder / "run.json").exists():
            run = json.loads((self.folder / "run.json").read_text())
        self.model = (run.get("backend") or "")
        self.set: EvalSetData | None = None
        if run.get("set"):
            try:
                self.set = EvalSetData(run["set"], store)
                self.set.pages = self.pages
            except (OSError, ValueError) as e:
                log.warning("eval run %s: its set %s cannot be read (%s); showing predictions only",
                            folder, run["set"], e)
        preds = read_predictions(self.folder)
        scored: dict[str, dict] = {}
        if (self.folder / "scored.jsonl").exists():
            for line in (self.folder / "scored.jsonl").read_text().splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                scored[r["instance_id"]] = r
        self.rows = []
        for iid, p in preds.items():
            s = scored.get(iid, {})
            if s and s.get("prediction") != p.get("prediction"):
                s = {}     # scored before this prediction was redone: not its score
            inst = self.set.by_id.get(iid, {}) if self.set else {}
            self.rows.append({"instance_id": iid, "dataset": p.get("dataset"), "kind": p.get("kind", "doc"),
                              "task": p.get("task"), "target_length": p.get("target_length"),
                              "n_tokens": p.get("n_tokens"), "question": p.get("question"),
                              "answer": p.get("answer"), "answer_format": p.get("answer_format"),
                              "prediction": p.get("prediction"), "error": p.get("error") or "",
                              "score": s.get("score"), "failed": bool(p.get("error")) or bool(s.get("failed")),
                              "extracted": s.get("extracted"), "seconds": p.get("seconds"),
                              "doc_id": inst.get("doc_id", ""), "doc_name": inst.get("doc_name", ""),
                              "evidence_pages": inst.get("evidence_pages", [])})
        self.by_id = {r["instance_id"]: r for r in self.rows}

    def info(self) -> dict:
        return {"kind": self.kind, "title": self.title, "path": str(self.folder), "model": self.model,
                "store": self.pages.path, "store_error": self.pages.error, "n": len(self.rows),
                "set": self.set.path if self.set else None, "facets": _facets(self.rows),
                "failed": sum(1 for r in self.rows if r["error"])}

    def items(self, q: dict) -> dict:
        rows = [r for r in self.rows if _match(r, q)]
        offset, limit = max(0, int(q.get("offset", 0))), min(500, max(1, int(q.get("limit", 50))))
        return {"total": len(rows), "offset": offset, "limit": limit, "items": rows[offset:offset + limit]}

    def item(self, iid: str) -> dict:
        out = dict(self.by_id[iid])
        if self.set and iid in self.set.offsets:
            out.update(self.set._context(self.set.instance(iid)))
        return out


def diff(a: EvalRunData, b: EvalRunData, q: dict) -> dict:
    """Questions both runs answered whose outcome differs (score class, or the prediction when unscored)."""
    rows = []
    for iid, ra in a.by_id.items():
        rb = b.by_id.get(iid)
        if rb is None or not _match(ra, q):
            continue
        ca, cb = _score_class(ra), _score_class(rb)
        differs = ca != cb or (ca == cb == "unscored" and ra.get("prediction") != rb.get("prediction")) or (
            ra.get("score") is not None and rb.get("score") is not None and ra["score"] != rb["score"])
        if differs:
            rows.append({"instance_id": iid, "question": ra["question"], "answer": ra["answer"],
                         "answer_format": ra["answer_format"], "target_length": ra["target_length"],
                         "dataset": ra["dataset"], "a": {k: ra[k] for k in ("prediction", "score", "error")},
                         "b": {k: rb[k] for k in ("prediction", "score", "error")}})
    offset, limit = max(0, int(q.get("offset", 0))), min(500, max(1, int(q.get("limit", 50))))
    return {"total": len(rows), "offset": offset, "limit": limit, "items": rows[offset:offset + limit],
            "a": a.title, "b": b.title, "both": sum(1 for i in a.by_id if i in b.by_id)}
