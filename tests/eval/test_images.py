"""ImageResolver: store pages resolved at the counted size, with a bounded page cache."""

from mmprolong import tokens
from mmprolong.corpus.store import PageStore
from mmprolong.eval.images import ImageResolver


def _msgs(pages):
    return [{"role": "user", "content": [{"type": "image", "doc_id": d, "page": p, "width": w, "height": h}
                                         for d, p, w, h in pages]}]


def test_cache_never_evicts_pages_of_the_request_it_serves(store_dir, tmp_path):
    store = PageStore(store_dir)
    rows = store.pages_dataset().to_table(columns=["doc_id", "page", "image_width", "image_height"]).to_pylist()
    pages = [(r["doc_id"], r["page"], r["image_width"], r["image_height"]) for r in rows]
    res = ImageResolver(store, tmp_path, tokens.load("qwen2.5-vl"), resize=False, cache_docs=1)   # 64 pages
    cap = 64
    assert len(pages) > cap + 10
    assert len(res.images(_msgs(pages[:cap]))) == cap            # the cache is full
    # the next request needs the oldest cached pages again plus new ones: the new ones must not push them out
    again = pages[:5] + pages[cap:cap + 10]
    assert len(res.images(_msgs(again))) == len(again)
    assert len(res._cache) <= cap
