"""A build folder for the view: a compact index of every kept instance and rejected candidate, filtered server-side.

The index holds only what the filters need (task, length bucket, document, failed checks, rejection kind, token
length, page count) and where each row lives (part file, row): about 60 bytes per item, so a build of 100K
instances opens from a handful of Parquet columns in well under a second. The question, answer and the rest are
read from the item's part file (one row group) when a page of the list or an item is shown.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .pages import PageSource, calc_line, mark, needles_for

log = logging.getLogger(__name__)

LIST_COLUMNS = ["question", "answer", "answer_format"]
SHARD_COLUMNS = ["sample_id", "pages", "n_tokens", "n_image_tokens", "depth", "bucket", "max_pixels"]


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def _failed_checks(checks_failed: pa.ChunkedArray, reason: pa.Array) -> pa.Array:
    """Per row, the sorted union of checks_failed and the checks a verify reason names ("verify: a, b"):
    vectorised, a build of 100K rejections is indexed in milliseconds."""
    n = len(reason)
    tail = pc.if_else(pc.starts_with(reason, "verify:"), pc.utf8_slice_codeunits(reason, 7), "")
    named = pc.split_pattern(tail, ",")
    cf = checks_failed.combine_chunks()
    pairs = pa.table({"p": pa.concat_arrays([pc.list_parent_indices(named), pc.list_parent_indices(cf)]),
                      "v": pa.concat_arrays([pc.utf8_trim_whitespace(pc.list_flatten(named)),
                                             pc.list_flatten(cf).cast(pa.string())])})
    pairs = pairs.filter(pc.not_equal(pairs.column("v"), ""))
    pairs = pairs.group_by(["p", "v"], use_threads=False).aggregate([]).sort_by([("p", "ascending"),
                                                                                  ("v", "ascending")])
    counts = np.bincount(pairs.column("p").to_numpy(), minlength=n) if pairs.num_rows else np.zeros(n, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pairs.column("v").combine_chunks()
                                    if pairs.num_rows else pa.array([], pa.string()))


def _located(files: list[Path], columns: list[str]) -> pa.Table:
    """These columns of every part, with the part's index (`_f`) and the row's index inside it (`_r`)."""
    tables = []
    for i, f in enumerate(files):
        t = pq.ParquetFile(f).read(columns=columns)   # one file, no dataset discovery
        t = t.append_column("_f", pa.array([i] * t.num_rows, pa.int32()))
        tables.append(t.append_column("_r", pa.array(range(t.num_rows), pa.int32())))
    return pa.concat_tables(tables) if tables else None


class RowReader:
    """Rows of part files by (file, row), one row group at a time, the last few row groups kept."""

    def __init__(self, files: list[Path], keep: int = 16):
        self.files = files
        self._cache: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()
        self._starts: dict[int, list[int]] = {}

    def _group(self, f: int, row: int) -> tuple[int, int]:
        if f not in self._starts:
            md = pq.ParquetFile(self.files[f]).metadata
            starts, n = [], 0
            for g in range(md.num_row_groups):
                starts.append(n)
                n += md.row_group(g).num_rows
            self._starts[f] = starts
        starts = self._starts[f]
        g = max(i for i, s in enumerate(starts) if s <= row)
        return g, row - starts[g]

    def rows(self, locs: list[tuple[int, int]], columns: list[str]) -> list[dict]:
        out = []
        with self._lock:
            for f, r in locs:
                g, k = self._group(f, r)
                key = (f, g, tuple(columns))
                if key not in self._cache:
                    self._cache[key] = pq.ParquetFile(self.files[f]).read_row_group(g, columns=columns)
                    while len(self._cache) > self._keep:
                        self._cache.popitem(last=False)
                self._cache.move_to_end(key)
                out.append(self._cache[key].slice(k, 1).to_pylist()[0])
        return out


class BuildData:
    kind = "build"

    def __init__(self, folder: str | Path, store: str | Path | None = None):
        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "manifest.json").read_text())
        self.title = f"build {self.folder.name} ({(self.manifest.get('recipe') or {}).get('name', '')})"
        recorded = (self.manifest.get("store") or {}).get("path")
        usable = recorded and ("://" in recorded or Path(recorded).is_dir())
        self.pages = PageSource(recorded if usable or not store else store)
        self.qa_files = _parts(self.folder / "qa")
        self.rej_files = _parts(self.folder / "rejected")
        self.shard_files = _parts(self.folder / "shards")
        self.qa_rows, self.rej_rows, self.shard_rows = (RowReader(self.qa_files), RowReader(self.rej_files),
                                                        RowReader(self.shard_files))
        self.index = self._index()
        pa.default_memory_pool().release_unused()   # the columns read to build it (30 MiB at 100K items)
        self.n_kept = int(pc.sum(pc.equal(self.index.column("status"), "kept")).as_py() or 0)

    def _index(self) -> pa.Table:
        """One row per item: status, task, doc, bucket, n_tokens, n_pages, checks (failed), reason kind, location."""
        cols = ["qa_id", "doc_id", "task", "checks_failed"]
        parts = []
        kept = _located(self.qa_files, cols)
        if kept is not None:
            shards = _located(self.shard_files, ["qa_id", "n_tokens", "bucket", "pages"])
            if shards is not None:
                shards = pa.table({"qa_id": shards.column("qa_id"), "n_tokens": shards.column("n_tokens"),
                                   "bucket": shards.column("bucket"),
                                   "n_pages": pc.list_value_length(shards.column("pages")).cast(pa.int32()),
                                   "_sf": shards.column("_f"), "_sr": shards.column("_r")})
                at = pc.index_in(kept.column("qa_id"), value_set=shards.column("qa_id"))   # kept row -> shard row
                for c in ("n_tokens", "bucket", "n_pages", "_sf", "_sr"):
                    kept = kept.append_column(c, shards.column(c).take(at))
            else:
                kept = kept.append_column("n_tokens", pa.nulls(kept.num_rows, pa.int32())) \
                    .append_column("bucket", pa.nulls(kept.num_rows, pa.string())) \
                    .append_column("n_pages", pa.nulls(kept.num_rows, pa.int32())) \
                    .append_column("_sf", pa.nulls(kept.num_rows, pa.int32())) \
                    .append_column("_sr", pa.nulls(kept.num_rows, pa.int32()))
            n = kept.num_rows
            parts.append(pa.table({
                "status": pa.array(["kept"] * n), "qa_id": kept.column("qa_id"), "doc_id": kept.column("doc_id"),
                "task": kept.column("task"), "checks": kept.column("checks_failed"),
                "reason": pa.nulls(n, pa.string()), "n_tokens": kept.column("n_tokens"),
                "bucket": kept.column("bucket"), "n_pages": kept.column("n_pages"),
                "_f": kept.column("_f"), "_r": kept.column("_r"), "_sf": kept.column("_sf"),
                "_sr": kept.column("_sr")}))
        rej = _located(self.rej_files, cols + ["reason"])
        if rej is not None:
            n = rej.num_rows
            reason = pc.fill_null(rej.column("reason").combine_chunks(), "")
            kind = pc.utf8_trim_whitespace(pc.list_element(pc.split_pattern(reason, ":", max_splits=1), 0))
            kind = pc.if_else(pc.equal(kind, ""), "unknown", kind)
            parts.append(pa.table({
                "status": pa.array(["rejected"] * n), "qa_id": rej.column("qa_id"), "doc_id": rej.column("doc_id"),
                "task": rej.column("task"), "checks": _failed_checks(rej.column("checks_failed"), reason),
                "reason": kind, "n_tokens": pa.nulls(n, pa.int32()),
                "bucket": pa.nulls(n, pa.string()), "n_pages": pa.nulls(n, pa.int32()),
                "_f": rej.column("_f"), "_r": rej.column("_r"), "_sf": pa.nulls(n, pa.int32()),
                "_sr": pa.nulls(n, pa.int32())}))
        if not parts:
            raise FileNotFoundError(f"{self.folder}: no qa/ or rejected/ parts (has the build committed a part?)")
        t = pa.concat_tables(parts, promote_options="permissive")
        # repeated strings as dictionaries: the index stays small at 100K items
        for c in ("status", "doc_id", "task", "reason", "bucket"):
            i = t.schema.get_field_index(c)
            t = t.set_column(i, c, pc.dictionary_encode(t.column(c).cast(pa.string())))
        return t

    # ---- API -----------------------------------------------------------------------------------------------

    def info(self) -> dict:
        t = self.index

        def counts(col: str) -> dict:
            vc = pc.value_counts(t.column(col).cast(pa.string())).to_pylist()
            return {d["values"]: d["counts"] for d in vc if d["values"] is not None}

        checks = pc.value_counts(pc.list_flatten(t.column("checks"))).to_pylist() if t.num_rows else []
        names = self.pages.names()
        docs = counts("doc_id")
        return {"kind": self.kind, "title": self.title, "path": str(self.folder), "store": self.pages.path,
                "store_error": self.pages.error, "summary": self.manifest.get("summary", {}),
                "kept": self.n_kept, "rejected": t.num_rows - self.n_kept,
                "facets": {"status": counts("status"), "task": counts("task"), "bucket": counts("bucket"),
                           "reason": counts("reason"), "check": {d["values"]: d["counts"] for d in checks},
                           "doc": {d: {"n": n, "name": names.get(d, d[:12])}
                                   for d, n in sorted(docs.items(), key=lambda kv: -kv[1])[:500]}}}

    def _mask(self, q: dict) -> pa.ChunkedArray | None:
        t = self.index
        mask = None

        def both(m):
            nonlocal mask
            mask = m if mask is None else pc.and_(mask, m)

        for col in ("status", "task", "bucket", "reason", "doc_id"):
            v = q.get("doc" if col == "doc_id" else col)
            if v:
                both(pc.fill_null(pc.equal(t.column(col).cast(pa.string()), v), False))
        if q.get("check"):
            flat = pc.list_flatten(t.column("checks"))
            parents = pc.list_parent_indices(t.column("checks"))
            hit = pc.filter(parents, pc.equal(flat, q["check"]))
            m = pc.is_in(pa.array(range(t.num_rows), pa.int64()), value_set=pc.unique(hit).cast(pa.int64()))
            both(m)
        return mask

    def items(self, q: dict) -> dict:
        t = self.index
        mask = self._mask(q)
        if mask is not None:
            t = t.filter(mask)
        offset, limit = max(0, int(q.get("offset", 0))), min(500, max(1, int(q.get("limit", 50))))
        page = t.slice(offset, limit)
        rows = page.drop_columns(["checks"]).to_pylist()
        checks = page.column("checks").to_pylist()
        items = []
        kept = [(r["_f"], r["_r"]) for r in rows if r["status"] == "kept"]
        rej = [(r["_f"], r["_r"]) for r in rows if r["status"] != "kept"]
        texts = iter(self.qa_rows.rows(kept, LIST_COLUMNS))
        rtexts = iter(self.rej_rows.rows(rej, LIST_COLUMNS + ["reason"]))
        names = self.pages.names()
        for r, c in zip(rows, checks):
            x = next(texts) if r["status"] == "kept" else next(rtexts)
            items.append({"id": f"{r['status'][0]}{r['_f']}-{r['_r']}", "qa_id": r["qa_id"], "status": r["status"],
                          "task": r["task"], "bucket": r["bucket"], "n_tokens": r["n_tokens"],
                          "n_pages": r["n_pages"], "doc_id": r["doc_id"], "doc": names.get(r["doc_id"],
                                                                                           r["doc_id"][:12]),
                          "checks_failed": c, **x})
        return {"total": t.num_rows, "offset": offset, "limit": limit, "items": items}

    def _row(self, status: str, f: int, r: int) -> dict:
        rows = self.qa_rows if status == "k" else self.rej_rows
        cols = [c for c in pq.read_schema(rows.files[f]).names]
        return rows.rows([(f, r)], cols)[0]

    def item(self, item_id: str) -> dict:
        """Everything about one item: the QA record, its instance (kept), evidence pages with marked text."""
        status, loc = item_id[0], item_id[1:]
        f, r = (int(x) for x in loc.split("-"))
        rec = self._row(status, f, r)
        out = {"id": item_id, "status": "kept" if status == "k" else "rejected", **rec}
        if status == "k":
            hit = pc.and_(pc.equal(self.index.column("_f"), f), pc.equal(self.index.column("_r"), r))
            hit = pc.and_(hit, pc.equal(self.index.column("status").cast(pa.string()), "kept"))
            loc_row = self.index.filter(hit).select(["_sf", "_sr"]).to_pylist()
            if loc_row and loc_row[0]["_sf"] is not None:
                out["instance"] = self.shard_rows.rows([(loc_row[0]["_sf"], loc_row[0]["_sr"])], SHARD_COLUMNS)[0]
        out["calc"], values = calc_line(rec.get("evidence", ""))
        out["scope"] = _scope_text(rec.get("question", ""))
        out["doc"] = self.pages.names().get(rec["doc_id"], rec["doc_id"][:12])
        out["evidence_text"] = self._evidence(rec, values)
        out["verifier_answer"] = rec.get("verifier_answer") or (rec.get("verifier_answers") or None)
        return out

    def _evidence(self, rec: dict, values: list[str]) -> list[dict]:
        pages = sorted({int(p) for p in rec.get("evidence_pages") or []})
        texts = self.pages.texts(rec["doc_id"], pages)
        return [{"page": p, "segments": mark(texts.get(p, ""), needles_for(p, rec.get("evidence", ""),
                                                                          rec.get("answer", ""), values))}
                for p in pages]

    def kept_items(self) -> pa.Table:
        """qa_id, task and id of every kept item (what the grading sample draws from)."""
        t = self.index.filter(pc.equal(self.index.column("status").cast(pa.string()), "kept"))
        ids = [f"k{f}-{r}" for f, r in zip(t.column("_f").to_pylist(), t.column("_r").to_pylist())]
        return pa.table({"qa_id": t.column("qa_id"), "task": t.column("task").cast(pa.string()),
                         "id": pa.array(ids, pa.string())})


def _scope_text(question: str) -> str:
    """The scope anchor as the question words it: its page references and named sections."""
    import re

    found = re.findall(r"\b(?:on |in |from )?(?:pages?\s+\d+(?:\s*(?:-|to|through|and|,)\s*\d+)*|"
                       r"(?:the )?(?:section|chapter|part|appendix|annex)\s+[\"“']?[^,?\"”']{1,60}[\"”']?)",
                       question, re.IGNORECASE)
    return "; ".join(s.strip() for s in found)
