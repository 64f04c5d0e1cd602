"""Random access to a page store: one document's pages via the row-group index (`PageStore.document`) against a
filtered pyarrow.dataset scan (the obvious way), side by side on the same store.

    python bench/store_access.py STORE [--docs 20]
"""

from __future__ import annotations

import argparse
import random
import time

import pyarrow.dataset as ds

from mmprolong.corpus.store import PageStore


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--docs", type=int, default=20)
    a = ap.parse_args()
    store = PageStore(a.store)
    ids = random.Random(0).sample(store.doc_ids(), min(a.docs, len(store.doc_ids())))
    t0 = time.perf_counter()
    n_index = store.page_index()
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in ids:
        store.read_pages([d])
    t_new = (time.perf_counter() - t0) / len(ids)
    t0 = time.perf_counter()
    for d in ids:
        store.pages_dataset().to_table(filter=ds.field("doc_id") == d)
    t_old = (time.perf_counter() - t0) / len(ids)
    pages = store.pages_dataset().count_rows()
    print(f"| store | pages | index build (once) | per document: filtered scan | per document: index | ratio |\n"
          f"|---|---:|---:|---:|---:|---:|\n| {a.store} ({len(n_index)} docs) | {pages:,} | {t_index*1e3:.0f} ms | "
          f"{t_old*1e3:.1f} ms | {t_new*1e3:.1f} ms | {t_old/t_new:.1f}x |")


if __name__ == "__main__":
    main()
