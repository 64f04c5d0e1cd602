"""Resolve an instance's image parts to pixels at run time: store pages by (doc_id, page), needle pages as assets.

Each image is resized to exactly the size the TokenCounter counted (the model's resize rule on the stored size),
so a server or processor receives pixels that cost the counted number of tokens and does no resizing of its own.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from .. import storage
from ..corpus.store import PageStore
from ..tokens import TokenCounter


def at_counted_size(im: Image.Image, counter: TokenCounter, max_pixels: int | None = None) -> Image.Image:
    """`im` resized to the grid the TokenCounter counts for it (sides multiples of the patch factor, area within
    the pixel bounds), so the model's own resize rule leaves it as it is; `im` itself when already there.

    Shared by eval (pixels sent to a server or processor) and the dataset exports (files a training tool reads)."""
    g = counter.image_grid(im.width, im.height, max_pixels)
    if (g.width, g.height) == im.size:
        return im
    return im.resize((g.width, g.height), Image.Resampling.BICUBIC)


class ImageResolver:
    def __init__(self, store: PageStore | None, set_dir: str | Path, counter: TokenCounter,
                 max_pixels: int | None = None, resize: bool = True, cache_docs: int = 64):
        self.store, self.counter = store, counter
        self.set_dir = storage.normalize(set_dir)   # a local folder or a URL: needle assets are read from it
        self.max_pixels, self.resize = max_pixels, resize
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._text: dict[tuple[str, int], str] = {}
        self._cache_pages = cache_docs * 64
        self._lock = threading.Lock()

    def _fetch(self, keys: list[tuple[str, int]]) -> None:
        """Load `keys` into the cache (least recently used pages are evicted first, never one of `keys`)."""
        for k in keys:  # pages already cached are used again: most recent, so the eviction below spares them
            if k in self._cache:
                self._cache.move_to_end(k)
        missing = [k for k in keys if k not in self._cache]
        if not missing:
            return
        if self.store is None:
            raise FileNotFoundError("this eval set references page-store pages: pass --store")
        docs = sorted({d for d, _ in missing})
        want = set(missing)
        tbl = self.store.read_pages(docs, ["doc_id", "page", "image", "text"])  # row-group index, no full scan
        for d, p, img, txt in zip(tbl.column("doc_id").to_pylist(), tbl.column("page").to_pylist(),
                                  tbl.column("image").to_pylist(), tbl.column("text").to_pylist()):
            if (d, p) in want:
                self._cache[(d, p)] = img
                self._text[(d, p)] = txt or ""
        lost = [k for k in missing if k not in self._cache]
        if lost:
            raise KeyError(f"pages not in the page store {self.store.root}: {lost[:3]}")
        while len(self._cache) > max(self._cache_pages, len(set(keys))):
            k, _ = self._cache.popitem(last=False)
            self._text.pop(k, None)

    def prefetch(self, pages: list[tuple[str, int]]) -> None:
        """Load these store pages (images and text layer) so `page_text` can answer for them."""
        with self._lock:
            self._fetch(pages)

    def page_text(self, doc_id: str, page: int) -> str:
        return self._text.get((doc_id, int(page)), "")

    def _raw(self, part: dict) -> bytes:
        if "asset" in part:
            return storage.read_bytes(storage.join(self.set_dir, part["asset"]))
        return self._cache[(part["doc_id"], int(part["page"]))]

    def images(self, messages: list[dict]) -> list[Image.Image]:
        """PIL images for the image parts of `messages`, in order, at the counted size."""
        parts = list(TokenCounter.iter_images(messages))
        with self._lock:  # the runner resolves from several threads
            self._fetch([(p["doc_id"], int(p["page"])) for p in parts if "doc_id" in p])
            raws = [self._raw(p) for p in parts]
        out = []
        for p, raw in zip(parts, raws):
            im = Image.open(io.BytesIO(raw)).convert("RGB")
            if (im.width, im.height) != (int(p["width"]), int(p["height"])):
                raise ValueError(f"stored image {p.get('doc_id', p.get('asset'))}:{p.get('page', '')} is "
                                 f"{im.width}x{im.height}, the eval set says {p['width']}x{p['height']}")
            if self.resize:
                im = at_counted_size(im, self.counter, p.get("max_pixels", self.max_pixels))
            out.append(im)
        return out


def jpeg_data_url(im: Image.Image, quality: int = 90) -> str:
    import base64
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
