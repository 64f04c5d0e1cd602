"""The eval prompt: how an instance's context and question become chat messages — the shared layout module
(`mmprolong.layout`), so eval prompts and training samples are laid out and counted by the same code.

Default: MMLongBench's document-QA prompt (its instruction first, every page labelled "Document <name>:" with its
own document's name, then "Question: Based on Document <gold name>, answer the following question. ..."). Presets:
`PromptConfig.preset("niah")` (MMLongBench's MM-NIAH prompt, used by `eval needles`), `"legacy"` (this project's
earlier layout; old eval sets keep it). Image parts carry where the image comes from (doc_id/page or asset) and its
stored pixel size; backends resolve them to pixels at run time, and the TokenCounter counts them from width/height
exactly as the backend sends them.
"""

from __future__ import annotations

from typing import Callable

from ..layout import LEGACY_INSTRUCTION, MMLB_DOCQA_INSTRUCTION, PRESETS, PromptLayout, eval_messages, item_parts

PromptConfig = PromptLayout
DEFAULT_INSTRUCTION = MMLB_DOCQA_INSTRUCTION


def build_messages(context: list[dict], question: str, prompt: PromptLayout,
                   page_text: Callable[[str, int], str] | None = None, doc_name: str = "") -> list[dict]:
    """The chat messages a backend sends for this context and question (generation prompt added by the caller)."""
    return eval_messages(context, question, prompt, page_text, doc=doc_name)


__all__ = ["DEFAULT_INSTRUCTION", "LEGACY_INSTRUCTION", "PRESETS", "PromptConfig", "build_messages", "item_parts"]
