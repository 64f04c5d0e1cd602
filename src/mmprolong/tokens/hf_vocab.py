"""Text ids from a model folder's own tokenizer.json (HF `tokenizers`), for vocabularies other than Qwen's."""

from __future__ import annotations

import json
from pathlib import Path


class HFVocab:
    """Same interface as TextVocab, backed by the folder's tokenizer.json."""

    def __init__(self, tokenizer_json: str):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_json))
        data = json.loads(Path(tokenizer_json).read_text())
        self.special_ids = {t["content"]: t["id"] for t in data.get("added_tokens", [])}

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_batch(self, texts: list[str], num_threads: int = 1) -> list[int]:
        return [len(e.ids) for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)

    def token_id(self, token: str) -> int:
        return self.special_ids[token]
