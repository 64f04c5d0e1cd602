"""Page catalog: every store page's size, text and token cost, counted once, so lengths are assembled by arithmetic.

A page item costs its image tokens (the model's resize rule on the stored JPEG size) plus the two vision
delimiters, plus its label/text parts. Because the delimiters are special tokens, items do not merge with their
neighbours in tokenization, so the sum is exact; builders still verify each instance with one `count_messages`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..corpus.store import PageStore
from ..tokens import TokenCounter
from .prompt import PromptConfig, build_messages, item_parts


def document_name(source: str, doc_id: str) -> str:
    """A document's display name: its file's stem (MMLongBench labels pages with the document's file name)."""
    stem = Path(str(source or "")).name
    for ext in (".pdf", ".PDF"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return stem or doc_id


@dataclass
class DocPages:
    doc_id: str
    pages: list[dict]                     # page, width, height (pixels), text
    costs: list[int] = field(default_factory=list)
    name: str = ""                        # the source file's stem: the "Document <name>" label of its pages

    @property
    def total(self) -> int:
        return sum(self.costs)

    def item(self, page: int) -> dict:
        p = self.pages[page]
        item = {"doc_id": self.doc_id, "page": p["page"], "width": p["width"], "height": p["height"]}
        if self.name:
            item["name"] = self.name
        return item


class PageCatalog:
    """All ok documents of a store (without image bytes) with per-page token costs for one counter and prompt."""

    def __init__(self, store: PageStore, counter: TokenCounter, prompt: PromptConfig,
                 max_pixels: int | None = None, doc_ids: set[str] | None = None):
        self.counter, self.prompt, self.max_pixels = counter, prompt, max_pixels
        self.docs: dict[str, DocPages] = {}
        for doc in store.iter_documents(with_images=False, doc_ids=doc_ids):
            pages = [{"page": int(p["page"]), "width": int(p["image_width"]), "height": int(p["image_height"]),
                      "text": p.get("text") or ""} for p in doc.pages]
            dp = DocPages(doc.doc_id, pages, name=document_name(doc.source, doc.doc_id))
            dp.costs = [self.item_cost(dp.item(i)) for i in range(len(pages))]
            self.docs[doc.doc_id] = dp

    def page_text(self, doc_id: str, page: int) -> str:
        d = self.docs.get(doc_id)
        return d.pages[page]["text"] if d and 0 <= page < len(d.pages) else ""

    def item_cost(self, item: dict, index: int = 0) -> int:
        n = 0
        for part in item_parts(item, index, self.prompt, self.page_text):
            if part["type"] == "image":
                n += self.counter.image_tokens(part["width"], part["height"], self.max_pixels) + 2
            else:
                n += self.counter.count_text(part["text"])
        return n

    def doc_name(self, doc_id: str) -> str:
        d = self.docs.get(doc_id)
        return d.name if d and d.name else doc_id

    def messages(self, context: list[dict], question: str, doc: str = "") -> list[dict]:
        """`doc`: the gold document's name (the template's {doc})."""
        return build_messages(context, question, self.prompt, self.page_text, doc_name=doc)

    def count(self, context: list[dict], question: str, doc: str = "") -> int:
        """Exact tokens of the whole prompt as sent (generation prompt included)."""
        return self.counter.count_messages(self.messages(context, question, doc), add_generation_prompt=True,
                                           max_pixels=self.max_pixels).total

    def overhead(self, question: str, doc: str = "") -> int:
        """Tokens of everything but the context items (exact when items are delimited by vision tokens)."""
        probe = {"asset": "probe", "width": 28 * 8, "height": 28 * 8}
        return self.count([probe], question, doc) - self.item_cost(probe)
