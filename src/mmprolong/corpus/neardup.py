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

`dedup_store` runs the distributed stages of corpus/dedup/ (signatures beside the data, a shuffle of LSH band keys,
verified pairs, connected components) on a local process pool or Ray; `find_near_duplicates` is the one-process
reference they are tested against (same records). Ties between kept documents are broken by visiting order
(corpus/dedup/keep.py), so the records do not depend on hash order.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import pyarrow as pa

from .. import storage
from .dedup import keep
from .store import PageStore

if TYPE_CHECKING:
    from datasketch import MinHash

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


def shingles(page_texts: Iterable[str]) -> list[bytes] | None:
    """A document's word shingles (sorted, UTF-8); None when its text layer is too thin to compare."""
    words = [w for t in page_texts for w in _WORD.findall((t or "").lower())]
    out = {" ".join(words[i:i + SHINGLE]) for i in range(max(0, len(words) - SHINGLE + 1))}
    if len(out) < MIN_SHINGLES:
        return None
    return [s.encode("utf-8") for s in sorted(out)]


def signature(page_texts: Iterable[str], num_perm: int = NUM_PERM) -> MinHash | None:
    """MinHash of a document's word shingles; None when its text layer is too thin to compare."""
    from datasketch import MinHash

    sh = shingles(page_texts)
    if sh is None:
        return None
    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch(sh)
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


def page_texts(table: pa.Table) -> dict[str, list[str]]:
    """doc_id -> its pages' text layers in page order, from a table with doc_id, page and text columns."""
    rows = sorted(zip(table.column("doc_id").to_pylist(), table.column("page").to_pylist(),
                      table.column("text").to_pylist()), key=lambda r: (r[0], r[1]))
    out: dict[str, list[str]] = {}
    for d, _, t in rows:
        out.setdefault(d, []).append(t or "")
    return out


def find_near_duplicates(docs: Iterable[tuple[str, int, list[str]]], threshold: float = THRESHOLD,
                         num_perm: int = NUM_PERM,
                         against: Iterable[tuple[str, list[str]]] = ()) -> list[NearDuplicate]:
    """Near-duplicates among `docs` ((doc_id, n_pages, page texts)) and of `against` ((doc_id, page texts)), in one
    process with every signature held: the reference the distributed stages (corpus/dedup/) must equal."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    from datasketch import MinHashLSH   # (scipy behind it: imported only where used)

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sigs: dict[str, MinHash] = {}
    kind: dict[str, str] = {}
    ranks: dict[str, tuple] = {}
    for doc_id, texts in against:
        m = signature(texts, num_perm)
        if m is not None and f"eval:{doc_id}" not in sigs:
            key = f"eval:{doc_id}"
            sigs[key] = m
            kind[key] = "eval"
            ranks[key] = keep.rank("eval", 0, doc_id, len(ranks))
            lsh.insert(key, m)
    pool = []
    for doc_id, n_pages, texts in docs:
        m = signature(texts, num_perm)
        if m is not None:
            pool.append((keep.rank("pool", n_pages, doc_id), doc_id, m))
    out = []
    for r, doc_id, m in sorted(pool, key=lambda x: x[0]):
        cands = []
        for key in lsh.query(m):
            sim = float(m.jaccard(sigs[key]))
            if sim >= threshold:
                cands.append((ranks[key], kind[key], sim, key))
        best = keep.best_kept(cands)
        if best is None:
            sigs[doc_id] = m
            kind[doc_id] = "pool"
            ranks[doc_id] = r
            lsh.insert(doc_id, m)
        else:
            _, k, sim, key = best
            out.append(NearDuplicate(doc_id, key.removeprefix("eval:"), sim, k))
    return sorted(out, key=lambda d: d.doc_id)


def reference_texts(against: Iterable[str | Path]) -> list[tuple[str, list[str]]]:
    """(doc_id, page texts) of eval documents: PDF files (doc_id = sha256 of the bytes), folders of PDFs, stores."""
    refs: list[tuple[str, list[str]]] = []
    for a in against:
        p = Path(a)
        if (p / "docs").is_dir():
            refs += [(d.doc_id, [pg.get("text") or "" for pg in d.pages])
                     for d in PageStore(p).iter_documents(with_images=False)]
        else:
            for f in sorted(p.rglob("*.pdf")) if p.is_dir() else [p]:
                refs.append((hashlib.sha256(f.read_bytes()).hexdigest(), pdf_texts(f)))
    return refs


def reference_dedup(store: str | Path | PageStore, threshold: float = THRESHOLD, num_perm: int = NUM_PERM,
                    against: Iterable[str | Path] = ()) -> list[NearDuplicate]:
    """The store's near-duplicates found by `find_near_duplicates` in this process (nothing written)."""
    store = store if isinstance(store, PageStore) else PageStore(store)
    docs = ((d.doc_id, len(d.pages), [pg.get("text") or "" for pg in d.pages])
            for d in store.iter_documents(with_images=False))
    paths = sorted(os.path.abspath(str(a)) for a in against)   # the order the distributed run signs them in
    return find_near_duplicates(docs, threshold, num_perm, reference_texts(paths))


def dedup_store(store: str | Path | PageStore, threshold: float = THRESHOLD, num_perm: int = NUM_PERM,
                against: Iterable[str | Path] = (), executor: str = "local", workers: int | None = None,
                ray_address: str | None = None, partitions: int | None = None,
                force: bool = False, progress: bool = False) -> list[NearDuplicate]:
    """Find the store's near-duplicates (and those of the `against` PDFs or page stores) and write FILE, with the
    distributed stages of corpus/dedup/ on `executor` ("local" process pool or "ray"); resumes a killed run and
    does nothing when FILE is current for the store and settings (unless `force`)."""
    from .dedup import run_dedup

    url = store.url if isinstance(store, PageStore) else storage.normalize(store)
    found, _ = run_dedup(url, threshold, num_perm, against, executor=executor, workers=workers,
                         ray_address=ray_address, partitions=partitions, force=force, progress=progress)
    return found


def read_near_duplicates(store: str | Path | PageStore) -> dict[str, NearDuplicate]:
    """doc_id -> its record, from FILE (empty when `dedup` has not been run on the store)."""
    url = store.url if isinstance(store, PageStore) else storage.normalize(store)
    path = storage.join(url, FILE)
    if not storage.exists(path):
        return {}
    return {r["doc_id"]: NearDuplicate(**r) for r in storage.parquet_file(path).read().to_pylist()}
