"""An opt-in LLM judge through any OpenAI-compatible endpoint: binary per answer, F1 over items for lists.

The judge sees the question, the gold answer and the model's answer (never the document), and replies in JSON.
Verdicts are cached per (judge model, question, gold, answer) in a JSONL file so rescoring costs nothing.
The API key comes from the environment variable named by `api_key_env` and is never logged.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .docqa import extract_answer, parse_list

SINGLE = """You grade answers to questions about a document. Compare the model's answer with the gold answer.
Say correct when they mean the same (numbers equal up to rounding and units, names the same entity, "Not answerable"
only matches "Not answerable").
Question: {question}
Gold answer: {gold}
Model answer: {pred}
Reply with JSON only: {{"correct": true}} or {{"correct": false}}"""

LIST = """You grade list answers to questions about a document. Count how many items of the model's list match an
item of the gold list (same meaning; each gold item matches at most once).
Question: {question}
Gold list: {gold}
Model list: {pred}
Reply with JSON only: {{"matched": <number of matching items>}}"""


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 3


def _json(text: str) -> dict:
    m = re.search(r"\{.*\}", text or "", re.S)
    if not m:
        raise ValueError(f"judge reply is not JSON: {text[:80]!r}")
    return json.loads(m.group(0))


def _verdict(value) -> bool:
    """The judge's "correct" value: JSON true/false, or the same written as a string or 0/1 ("false" is False)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "correct", "1", "false", "no",
                                                            "incorrect", "0"):
        return value.strip().lower() in ("true", "yes", "correct", "1")
    raise ValueError(f"judge verdict {value!r} is not true or false")


class LLMJudge:
    def __init__(self, cfg: JudgeConfig, cache: str | Path | None = None):
        from ..backends.openai_backend import OpenAIBackend, OpenAIConfig

        self.cfg = cfg
        # the eval backend's client: a whole-request deadline (`timeout`) and retries with backoff
        self._backend = OpenAIBackend(OpenAIConfig(base_url=cfg.base_url, model=cfg.model,
                                                   api_key_env=cfg.api_key_env, max_new_tokens=64, temperature=0.0,
                                                   timeout=cfg.timeout, max_retries=cfg.max_retries))
        self.cache_path = Path(cache) if cache else None
        self.cache: dict[str, float] = {}
        self._lock = threading.Lock()
        if self.cache_path and self.cache_path.exists():
            for ln in self.cache_path.read_text().splitlines():
                try:
                    r = json.loads(ln)
                    self.cache[r["key"]] = float(r["score"])
                except (json.JSONDecodeError, KeyError):
                    continue

    def _ask(self, prompt: str) -> dict:
        return _json(self._backend.generate([{"role": "user", "content": prompt}], []))

    def score(self, question: str, gold: str, response: str, answer_format: str) -> float:
        pred = extract_answer(response)
        key = hashlib.sha256(json.dumps([self.cfg.model, question, gold, pred, answer_format]).encode()).hexdigest()
        if key in self.cache:
            return self.cache[key]
        if answer_format == "List":
            g, p = parse_list(gold), parse_list(pred)
            if not g or not p:
                s = float(not g and not p)
            else:
                matched = min(int(self._ask(LIST.format(question=question, gold=json.dumps(g),
                                                        pred=json.dumps(p))).get("matched", 0)), len(g), len(p))
                prec, rec = matched / len(p), matched / len(g)
                s = 0.0 if matched == 0 else 2 * prec * rec / (prec + rec)
        else:
            s = float(_verdict(self._ask(SINGLE.format(question=question, gold=gold, pred=pred)).get("correct")))
        with self._lock:
            self.cache[key] = s
            if self.cache_path:
                with open(self.cache_path, "a") as f:
                    f.write(json.dumps({"key": key, "score": s}) + "\n")
        return s
