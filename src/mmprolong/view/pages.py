"""Page images and text layers for the view, read from the page store the folder names (never copied).

An image is read with `PageStore.read_pages` (only the row groups holding its document) and kept in a small LRU
bounded in bytes, so paging through one document's evidence reads its row groups once. Evidence text is marked in
the page's text layer where it matches (the quoted snippets of the evidence description, the answer, the operands
of a `calc:` line), returned as plain segments: the page builds them with textContent, never as HTML.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_BYTES = 64 * 2**20     # page JPEGs kept in memory (a 64-page row group at 144 DPI is ~10-20 MB)
_QUOTE = re.compile(r'Page\s+(\d+)\s*:\s*"(.+?)"(?=\s*(?:\.|;|$|Page\s+\d+\s*:))', re.S)


class PageSource:
    """One page store, opened on first use (a build or run whose store moved still lists its items)."""

    def __init__(self, store: str | Path | None):
        self.path = str(store) if store else ""
        self._store = None
        self._error = "" if store else "no page store recorded (pass --store)"
        self._lock = threading.Lock()
        self._images: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._bytes = 0
        self._names: dict[str, str] | None = None

    @property
    def store(self):
        with self._lock:
            if self._store is None and not self._error:
                from ..corpus.store import PageStore

                try:
                    self._store = PageStore(self.path)
                except (OSError, ValueError) as e:
                    self._error = f"page store {self.path}: {e}"
                    log.warning("%s", self._error)
            return self._store

    @property
    def error(self) -> str:
        self.store  # noqa: B018 (opens it, recording why not)
        return self._error

    def names(self) -> dict[str, str]:
        """doc_id -> a readable name (the source file's stem), from the docs table's two small columns."""
        if self._names is None:
            names: dict[str, str] = {}
            if self.store is not None:
                t = self.store.docs_table(columns=["doc_id", "source"])
                for d, s in zip(t.column("doc_id").to_pylist(), t.column("source").to_pylist()):
                    names[d] = Path(s or d).stem
            self._names = names
        return self._names

    def image(self, doc_id: str, page: int, width: int | None = None) -> bytes | None:
        """The page's JPEG as stored (or scaled down to `width` pixels: thumbnails); None when not in the store."""
        data = self._cached(doc_id, page)
        if data is None:
            return None
        if width:
            from PIL import Image

            im = Image.open(io.BytesIO(data))
            if im.width > width:
                im = im.convert("RGB")
                im.thumbnail((width, width * 4))
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=80)
                data = buf.getvalue()
        return data

    def _cached(self, doc_id: str, page: int) -> bytes | None:
        key = (doc_id, int(page))
        with self._lock:
            if key in self._images:
                self._images.move_to_end(key)
                return self._images[key]
        if self.store is None:
            return None
        t = self.store.read_pages([doc_id], ["page", "image"])
        found = None
        with self._lock:
            for p, img in zip(t.column("page").to_pylist(), t.column("image").to_pylist()):
                k = (doc_id, int(p))
                if k not in self._images:
                    self._images[k] = img
                    self._bytes += len(img)
                if p == page:
                    found = img
            while self._bytes > CACHE_BYTES and len(self._images) > 1:
                _, old = self._images.popitem(last=False)
                self._bytes -= len(old)
        return found

    def texts(self, doc_id: str, pages: list[int]) -> dict[int, str]:
        """Text layers of these pages (0-based) of one document."""
        if self.store is None or not pages:
            return {}
        t = self.store.read_pages([doc_id], ["page", "text"])
        want = set(pages)
        return {int(p): s or "" for p, s in zip(t.column("page").to_pylist(), t.column("text").to_pylist())
                if p in want}


def _pattern(needle: str) -> re.Pattern | None:
    """Whitespace-insensitive, case-insensitive; digits may carry thousands separators ("4392" ~ "4,392")."""
    words = needle.split()
    if not words or len(needle.strip()) < 2:
        return None
    parts = []
    for w in words:
        if re.fullmatch(r"\d{4,}", w):
            parts.append(",?".join(re.escape(c) for c in w))
        else:
            parts.append(re.escape(w))
    return re.compile(r"\s+".join(parts), re.IGNORECASE)


def needles_for(page: int, evidence: str, answer: str, calc_values: list[str]) -> list[str]:
    """What to mark on 0-based `page`: the evidence description's quotes of that page, the answer, calc operands."""
    out = [q.strip() for p, q in _QUOTE.findall(evidence or "") if int(p) - 1 == page]
    ans = (answer or "").strip()
    if ans.startswith("["):
        try:
            import json

            out += [str(a) for a in json.loads(ans)]
        except ValueError:
            out.append(ans)
    elif ans:
        out.append(ans)
    return [n for n in out + list(calc_values) if n and n.strip()]


def mark(text: str, needles: list[str]) -> list[dict]:
    """`text` as segments [{"t": str, "m": bool}], m where one of the needles matches."""
    spans: list[tuple[int, int]] = []
    for n in needles:
        pat = _pattern(n)
        if pat is not None:
            spans += [m.span() for m in pat.finditer(text)]
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    segs, pos = [], 0
    for a, b in merged:
        if a > pos:
            segs.append({"t": text[pos:a], "m": False})
        segs.append({"t": text[a:b], "m": True})
        pos = b
    if pos < len(text):
        segs.append({"t": text[pos:], "m": False})
    return segs


def calc_line(evidence: str) -> tuple[str, list[str]]:
    """The `calc:` line of an evidence description and its operand values ("" and [] when none)."""
    m = re.search(r"calc:\s*[^\n]*", evidence or "")
    if not m:
        return "", []
    line = m.group(0).strip()
    inner = line[line.find("(") + 1:line.rfind(")")] if "(" in line else ""
    values = [a.split("=", 1)[1].strip() for a in inner.split(";") if "=" in a]
    return line, values
