"""Near-duplicate documents of a page store: MinHash over the pages' text, LSH to find candidates (datasketch).

Byte-identical PDFs are caught at ingest (same sha256). Two editions of one manual, or one file saved twice by
different tools, differ in bytes but share nearly all their text: `find_near_duplicates` signs each document with a
MinHash of its word shingles (`SHINGLE` words, over every page's text layer, case and spacing normalised) and
looks them up in a MinHash LSH index at `threshold` estimated Jaccard similarity. Documents are visited most pages
first (then by doc_id), so of each group the longest is kept, whatever the store order; every other member is
recorded with the doc_id it duplicates.

`against` documents (e.g. the eval set's PDFs) are never kept from the pool: a pool document near one of them is
recorded as kind "eval" with that document's doc_id, and is left out like an excluded one.

The result is written next to the store's tables (`STORE/near_duplicates.parquet`, replaced atomically); the build's
planner leaves the listed documents out unless asked to keep pool near-duplicates (eval ones are always left out).
Documents with fewer than `MIN_SHINGLES` shingles (scans without a text layer) are not signed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pyarrow as pa
from datasketch import MinHash, MinHashLSH

from .. import storage
from .store import PageStore

log = logging.getLogger(__name__)

FILE = "near_duplicates.parquet"
SCHEMA = pa.schema([("doc_id", pa.string()), ("kept_doc_id", pa.string()), ("similarity", pa.float64()),
                    ("kind", pa.string())])   # kind: "pool" (a near-duplicate of a kept pool document) | "eval"
SHINGLE = 5
MIN_SHINGLES = 20
THRESHOLD = 0.8
NUM_PERM = 128
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class NearDuplicate:
    doc_id: str
    kept_doc_id: str
    similarity: float   # estimated Jaccard similarity of the shingle sets
    kind: str


def signature(page_texts: Iterable[str], num_perm: int = NUM_PERM) -> MinHash | None:
    """MinHash of a document's word shingles; None when its text layer is too thin to compare."""
    words = [w for t in page_texts for w in _WORD.findall((t or "").lower())]
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(0, len(words) - SHINGLE + 1))}
    if len(shingles) < MIN_SHINGLES:
        return None
    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    return m


def pdf_texts(path: str | Path) -> list[str]:
    """The text layer of every page of a PDF (for `against` documents that are not in a store)."""
    from .pdf import clean_text, open_pdf

    pdf = open_pdf(path)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            out.append(clean_text(tp.get_text_range()))
            tp.close()
            page.close()
        return out
    finally:
        pdf.close()


def find_near_duplicates(docs: Iterable[tuple[str, int, list[str]]], threshold: float = THRESHOLD,
                         num_perm: int = NUM_PERM,
                         against: Iterable[tuple[str, list[str]]] = ()) -> list[NearDuplicate]:
    """Near-duplicates among `docs` ((doc_id, n_pages, page texts)) and of `against` ((doc_id, page texts))."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sigs: dict[str, MinHash] = {}
    kind: dict[str, str] = {}
    for doc_id, texts in against:
        m = signature(texts, num_perm)
        if m is not None and f"eval:{doc_id}" not in sigs:
            key = f"eval:{doc_id}"
            sigs[key] = m
            kind[key] = "eval"
            lsh.insert(key, m)
    pool = []
    for doc_id, n_pages, texts in docs:
        m = signature(texts, num_perm)
        if m is not None:
            pool.append((-int(n_pages), doc_id, m))
    out = []
    for _, doc_id, m in sorted(pool, key=lambda x: (x[0], x[1])):
        best = None
        for key in lsh.query(m):
            sim = float(m.jaccard(sigs[key]))
            if sim >= threshold and (best is None or (kind[key] == "eval", sim) > (best[2] == "eval", best[1])):
                best = (key, sim, kind[key])
        if best is None:
            sigs[doc_id] = m
            kind[doc_id] = "pool"
            lsh.insert(doc_id, m)
        else:
            key, sim, k = best
            out.append(NearDuplicate(doc_id, key.removeprefix("eval:"), sim, k))
    return sorted(out, key=lambda d: d.doc_id)


def dedup_store(store: str | Path | PageStore, threshold: float = THRESHOLD, num_perm: int = NUM_PERM,
                against: Iterable[str | Path] = ()) -> list[NearDuplicate]:
    """Find the store's near-duplicates (and those of the `against` PDFs or page stores) and write FILE."""
    store = store if isinstance(store, PageStore) else PageStore(store)
    refs: list[tuple[str, list[str]]] = []
    for a in against:
        p = Path(a)
        if (p / "docs").is_dir():
            refs += [(d.doc_id, [pg.get("text") or "" for pg in d.pages])
                     for d in PageStore(p).iter_documents(with_images=False)]
        else:
            for f in sorted(p.rglob("*.pdf")) if p.is_dir() else [p]:
                refs.append((hashlib.sha256(f.read_bytes()).hexdigest(), pdf_texts(f)))
    docs = ((d.doc_id, len(d.pages), [pg.get("text") or "" for pg in d.pages])
            for d in store.iter_documents(with_images=False))
    found = find_near_duplicates(docs, threshold, num_perm, refs)
    table = pa.Table.from_pylist([d.__dict__ for d in found], schema=SCHEMA)
    storage.write_parquet(table, storage.join(store.url, FILE))
    log.info("%s: %d near-duplicate documents (%d of eval documents)", store.url, len(found),
             sum(d.kind == "eval" for d in found))
    return found


def read_near_duplicates(store: str | Path | PageStore) -> dict[str, NearDuplicate]:
    """doc_id -> its record, from FILE (empty when `dedup` has not been run on the store)."""
    url = store.url if isinstance(store, PageStore) else storage.normalize(store)
    path = storage.join(url, FILE)
    if not storage.exists(path):
        return {}
    return {r["doc_id"]: NearDuplicate(**r) for r in storage.parquet_file(path).read().to_pylist()}
