"""The eval prompt: how an instance's context and question become chat messages (configurable, documented).

Default (MMLongBench's document prompt): one user turn with the pages as images in order, then the question,
an allowance to say "Not answerable", and the final answer on a line after "Answer:". Page labels and the page
text layer are off by default (MMLongBench shows page images only); `page_label` may use {index} (1-based position
in the instance) and {page} (1-based page of its own document).

Image parts carry where the image comes from (doc_id/page or asset) and its stored pixel size; backends resolve
them to pixels at run time, and the TokenCounter counts them from width/height exactly as the backend sends them.
"""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, ConfigDict

DEFAULT_INSTRUCTION = (
    "You are given the pages of a document above, in order. Answer the question using only these pages. "
    "If the question cannot be answered from the document, answer \"Not answerable\". Keep the answer short "
    "(a number, a word, a phrase, or a list like [\"a\", \"b\"]) and give it on the last line as \"Answer: <answer>\"."
)
DEFAULT_TEMPLATE = "{instruction}\n\nQuestion: {question}"


class PromptConfig(BaseModel):
    """How instances are shown to the model. A wrong key is an error naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = DEFAULT_INSTRUCTION
    template: str = DEFAULT_TEMPLATE        # fields: {instruction}, {question}
    system: str | None = None               # None: the chat template's default
    page_label: str = ""                    # e.g. "Page {index}:" before each page image
    include_page_text: bool = False         # the page's text layer after its image


def item_parts(item: dict, index: int, prompt: PromptConfig, page_text: Callable[[str, int], str] | None = None
               ) -> list[dict]:
    """Content parts of one context item (a page, an asset image, or a text needle)."""
    if "text" in item and "width" not in item:
        return [{"type": "text", "text": item["text"]}]
    parts: list[dict] = []
    if prompt.page_label:
        parts.append({"type": "text", "text": prompt.page_label.format(index=index + 1,
                                                                       page=int(item.get("page", index)) + 1)})
    img = {"type": "image", "width": int(item["width"]), "height": int(item["height"])}
    if "doc_id" in item:
        img.update(doc_id=item["doc_id"], page=int(item["page"]))
    else:
        img["asset"] = item["asset"]
    parts.append(img)
    if prompt.include_page_text and page_text is not None and "doc_id" in item:
        txt = page_text(item["doc_id"], int(item["page"]))
        if txt:
            parts.append({"type": "text", "text": txt})
    return parts


def build_messages(context: list[dict], question: str, prompt: PromptConfig,
                   page_text: Callable[[str, int], str] | None = None) -> list[dict]:
    """The chat messages a backend sends for this context and question (generation prompt added by the caller)."""
    content: list[dict] = []
    for i, item in enumerate(context):
        content.extend(item_parts(item, i, prompt, page_text))
    content.append({"type": "text", "text": prompt.template.format(instruction=prompt.instruction, question=question)})
    msgs: list[dict] = []
    if prompt.system is not None:
        msgs.append({"role": "system", "content": prompt.system})
    msgs.append({"role": "user", "content": content})
    return msgs
