"""The one prompt layout: how pages, labels, instruction and question become chat messages, for training assembly
(`dataset.assemble`), evaluation prompts (`eval.prompt`, `eval.catalog`, `eval.runner`) and the token report
(`tokens.report`). It depends on nothing else in the package, so every layer can import it, and what a model is
trained on and evaluated on is laid out — and counted — by the same functions.

A page is one image part `{"type": "image", "width": W, "height": H, ...}` (W x H the stored JPEG's pixels, plus
where it comes from: `page` in training, `doc_id`/`page` or `asset` in eval sets, and `max_pixels` when a lowered
pixel bound applies), optionally preceded by a text label. Layouts:

- training (`training_messages`, the shards' format, unchanged): user = ["Page N:" (1-based document page, optional),
  image] per page, then the question; assistant = the target.
- eval, `PromptLayout()` default = MMLongBench's document-QA prompt: user = "<instruction>", then per page
  "\\n\\nDocument <name:.15>: " + image (each page labelled with ITS document's name, so padded multi-document
  contexts are unambiguous), then "\\n\\nQuestion: Based on Document <gold name:.15>, answer the following question.
  <question>". The text equals MMLongBench's `load_doc_qa` prompt. MMLongBench also pre-fills the assistant turn with
  "Answer:"; we send a plain generation prompt instead (the OpenAI and HF backends add it) — the instruction asks for
  "Answer: [answer]" and the scorer reads the text after the first "Answer:" either way.
- eval, `PromptLayout.preset("niah")`: MMLongBench's MM-NIAH prompt (interleaved text and images, no page labels).
- eval, `PromptLayout.preset("legacy")`: this project's earlier eval layout (pages first, then instruction and
  question), which eval sets built before the MMLongBench layout keep (their manifests lack `header`).
"""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, ConfigDict, model_validator

MMLB_DOCQA_INSTRUCTION = (
    "You are given a document with text and images, and a question. Answer the question as concisely as you can, "
    "using a single phrase or sentence if possible. If the question cannot be answered based on the information in "
    "the article, write 'Not answerable.' Write your answer in the following format:\nAnswer: [answer]")
MMLB_NIAH_INSTRUCTION = (
    "You are given interleaved text and images. Please answer the question based on the given text and images. "
    "Write your answer in the following format:\nAnswer: [answer]")
LEGACY_INSTRUCTION = (
    "You are given the pages of a document above, in order. Answer the question using only these pages. "
    "If the question cannot be answered from the document, answer \"Not answerable\". Keep the answer short "
    "(a number, a word, a phrase, or a list like [\"a\", \"b\"]) and give it on the last line as \"Answer: <answer>\".")

PRESETS: dict[str, dict] = {
    "mmlongbench": {"instruction": MMLB_DOCQA_INSTRUCTION, "header": "{instruction}",
                    "page_label": "\n\nDocument {doc:.15}: ",
                    "template": "\n\nQuestion: Based on Document {doc:.15}, answer the following question. {question}"},
    "niah": {"instruction": MMLB_NIAH_INSTRUCTION, "header": "{instruction}\n\n", "page_label": "",
             "template": "\n\nQuestion: {question}"},
    "legacy": {"instruction": LEGACY_INSTRUCTION, "header": "", "page_label": "",
               "template": "{instruction}\n\nQuestion: {question}"},
}


def page_marker(page: int) -> str:
    """The training label before a page image: the 1-based document page number."""
    return f"Page {page + 1}:"


def image_part(width: int, height: int, max_pixels: int | None = None, **source) -> dict:
    """One page image part; `source` (page=, doc_id=, asset=) comes first after the type, as stored in shards."""
    part = {"type": "image", **source, "width": int(width), "height": int(height)}
    if max_pixels is not None:
        part["max_pixels"] = int(max_pixels)
    return part


def training_messages(pages: list[dict], question: str, target: str, page_markers: bool = True,
                      max_pixels: int | None = None) -> list[dict]:
    """A training sample's messages; `pages` = [{"page": p (0-based), "width": W, "height": H}] in order."""
    content: list[dict] = []
    for pg in pages:
        if page_markers:
            content.append({"type": "text", "text": page_marker(int(pg["page"]))})
        content.append(image_part(pg["width"], pg["height"], max_pixels, page=int(pg["page"])))
    content.append({"type": "text", "text": question})
    return [{"role": "user", "content": content},
            {"role": "assistant", "content": [{"type": "text", "text": target}]}]


class PromptLayout(BaseModel):
    """How eval instances are shown to the model (default: MMLongBench's document-QA prompt). A wrong key is an
    error naming the key. Fields may use {instruction}; `page_label` {index} (1-based position in the context),
    {page} (1-based page of its own document) and {doc} (its document's name); `template` {question} and {doc}
    (the gold document's name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = MMLB_DOCQA_INSTRUCTION
    header: str = PRESETS["mmlongbench"]["header"]          # text before the first page
    page_label: str = PRESETS["mmlongbench"]["page_label"]  # text before each page image
    template: str = PRESETS["mmlongbench"]["template"]      # text after the last page
    system: str | None = None                               # None: the chat template's default
    include_page_text: bool = False                         # the page's text layer after its image

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data):
        """Eval sets written before the MMLongBench layout stored every field but `header`: keep their layout."""
        if isinstance(data, dict) and "template" in data and "header" not in data:
            data = {**data, "header": ""}
        return data

    @classmethod
    def preset(cls, name: str, **overrides) -> "PromptLayout":
        if name not in PRESETS:
            raise ValueError(f"unknown prompt preset {name!r}; use one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


def doc_name(item: dict) -> str:
    """A context page's document name: its `name` (the source file's stem) when the set recorded it, else doc_id."""
    return str(item.get("name") or item.get("doc_id") or "")


def item_parts(item: dict, index: int, layout: PromptLayout,
               page_text: Callable[[str, int], str] | None = None) -> list[dict]:
    """Content parts of one eval context item (a store page, an asset image, or a text needle)."""
    if "text" in item and "width" not in item:
        return [{"type": "text", "text": item["text"]}]
    parts: list[dict] = []
    if layout.page_label:
        parts.append({"type": "text", "text": layout.page_label.format(
            index=index + 1, page=int(item.get("page", index)) + 1, doc=doc_name(item),
            instruction=layout.instruction)})
    if "doc_id" in item:
        parts.append(image_part(item["width"], item["height"], doc_id=item["doc_id"], page=int(item["page"])))
    else:
        parts.append(image_part(item["width"], item["height"], asset=item["asset"]))
    if layout.include_page_text and page_text is not None and "doc_id" in item:
        txt = page_text(item["doc_id"], int(item["page"]))
        if txt:
            parts.append({"type": "text", "text": txt})
    return parts


def eval_messages(context: list[dict], question: str, layout: PromptLayout,
                  page_text: Callable[[str, int], str] | None = None, doc: str = "") -> list[dict]:
    """The chat messages an eval backend sends (generation prompt added by the caller); `doc` = the gold
    document's name for the template's {doc}."""
    content: list[dict] = []
    header = layout.header.format(instruction=layout.instruction)
    if header:
        content.append({"type": "text", "text": header})
    for i, item in enumerate(context):
        content.extend(item_parts(item, i, layout, page_text))
    content.append({"type": "text", "text": layout.template.format(instruction=layout.instruction,
                                                                   question=question, doc=doc)})
    msgs: list[dict] = []
    if layout.system is not None:
        msgs.append({"role": "system", "content": layout.system})
    msgs.append({"role": "user", "content": content})
    return msgs
