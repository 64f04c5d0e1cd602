"""An opt-in LLM judge through any OpenAI-compatible endpoint, with MMLongBench's judging semantics (prompt v1.1).

- String, Integer, Float and None ("Not answerable") golds: binary. The judge grades only the final answer (the text
  after "Answer:", as the rule-based scorer extracts it) against the gold: 1 when it matches, allowing semantic
  equivalence (10% and 0.1, UK and United Kingdom, singular and plural), every sub-question answered; 0 otherwise,
  including a correct value given together with a wrong one. It replies with a "[Score]: x points" line and a JSON
  {"answer_score": x}; the line wins, then the JSON; a reply with neither scores 0 (as MMLongBench) and is counted
  as `judge_unreadable`, not cached, so a rescore asks again.
- List golds: F1 over items. The judge extracts the model's list and replies {"student_answer_count": n,
  "covered_count": k} (k gold items covered by the answer); F1 of precision k/n and recall k/len(gold), clipped to
  [0, 1]; 0 when k is 0, n is 0 or the reply is unreadable.

The prompts are our own wording of those semantics; `PROMPT_VERSION` is part of every cache key, so changing a
prompt never reuses old verdicts. Verdicts are cached per (prompt version, judge model, question, gold, answer,
format) in a JSONL file. The API key comes from the environment variable named by `api_key_env` and is never logged.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .mmlongbench import answer_format, extract_answer, parse_gold_list

PROMPT_VERSION = "v1.1"

SINGLE = """You are grading a student's answer to a question about a document against the reference answer.
Rules:
- Grade only the student's final answer, not any reasoning that leads to it.
- 1 point when the final answer means the same as the reference: equal numbers in another notation (10% and 0.1,
  1,000 and 1000, a unit or currency sign added), synonyms (UK and United Kingdom), singular and plural forms.
  When the question has several parts, every part must be right.
- 0 points otherwise: a different value (470.86 for 470.85), a loosely related concept, or a right value given
  together with a wrong one. A reference of "Not answerable" only matches an answer that declines.
Write one or two sentences of rationale, then exactly:
[Score]: <0 or 1> points
[JSON]: {{"answer_score": <0 or 1>}}

Question: {question}
Reference answer: {reference}
Student answer: {prediction}
"""

LIST = """You are grading a student's answer to a list question about a document against the reference list.
Rules:
- First extract the list of items the student's answer gives (ignore filler such as "The answer is").
- A reference item is covered when the student's list states it or an unambiguous equivalent of it (10% and 0.1,
  UK and United Kingdom, singular and plural forms); loosely related items do not count. Each reference item counts
  at most once.
Write one or two sentences of rationale, then exactly:
[JSON]: {{"student_answer_count": <number of items in the student's list>, "covered_count": <number of reference
items covered>}}

Question: {question}
Reference list: {reference}
Student answer: {prediction}
"""


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 3
    max_tokens: int = 256


_SCORE_LINE = re.compile(r"\[Score\]\s*:\s*(\d+)\s*points?", re.I)


def _json_after(text: str, keys: tuple[str, ...]) -> dict:
    """The JSON object after "[JSON]:" (else the first object in the reply), else the keys found as "key": number."""
    m = re.search(r"\[JSON\]\s*:.*?(\{)", text, re.S) or re.search(r"(\{)", text)
    if m:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[m.start(1):])
            if isinstance(obj, dict):
                return obj
        except json.JSONDecodeError:
            pass
    out = {}
    for k in keys:
        km = re.search(rf'"{k}"\s*:\s*(-?\d+(?:\.\d+)?)', text)
        if km:
            out[k] = float(km.group(1))
    return out


def read_single(reply: str) -> float | None:
    """1.0 / 0.0 from a single-answer reply, None when it has no score."""
    m = _SCORE_LINE.search(reply or "")
    if m:
        return 1.0 if int(m.group(1)) >= 1 else 0.0
    v = _json_after(reply or "", ("answer_score",)).get("answer_score")
    try:
        return None if v is None else (1.0 if float(v) >= 1 else 0.0)
    except (TypeError, ValueError):
        return None


def read_list(reply: str, n_gold: int) -> float | None:
    """F1 from a list reply, None when it lacks the counts."""
    d = _json_after(reply or "", ("student_answer_count", "covered_count"))
    try:
        n, k = float(d["student_answer_count"]), float(d["covered_count"])
    except (KeyError, TypeError, ValueError):
        return None
    if k <= 0 or n <= 0:
        return 0.0
    prec, rec = k / n, k / n_gold
    return max(0.0, min(1.0, 2 * prec * rec / (prec + rec)))


class LLMJudge:
    def __init__(self, cfg: JudgeConfig, cache: str | Path | None = None):
        from ..backends.openai_backend import OpenAIBackend, OpenAIConfig

        self.cfg = cfg
        # the eval backend's client: a whole-request deadline (`timeout`) and retries with backoff
        self._backend = OpenAIBackend(OpenAIConfig(base_url=cfg.base_url, model=cfg.model,
                                                   api_key_env=cfg.api_key_env, max_new_tokens=cfg.max_tokens, temperature=0.0,
                                                   timeout=cfg.timeout, max_retries=cfg.max_retries))
        self.cache_path = Path(cache) if cache else None
        self.cache: dict[str, float] = {}
        self.unreadable = 0
        self._lock = threading.Lock()
        if self.cache_path and self.cache_path.exists():
            for ln in self.cache_path.read_text().splitlines():
                try:
                    r = json.loads(ln)
                    self.cache[r["key"]] = float(r["score"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue

    def describe(self) -> dict:
        return {"judge_model": self.cfg.model, "judge_prompt": PROMPT_VERSION}

    def _ask(self, prompt: str) -> str:
        return self._backend.generate([{"role": "user", "content": prompt}], []) or ""

    def key(self, question: str, gold: str, pred: str, fmt: str) -> str:
        return hashlib.sha256(json.dumps([PROMPT_VERSION, self.cfg.model, question, gold, pred, fmt],
                                         ensure_ascii=False).encode()).hexdigest()

    def score(self, question: str, gold: str, response: str, fmt: str) -> float:
        """The judge's score of a raw response (its answer after "Answer:") in [0, 1]."""
        fmt = answer_format(fmt)
        pred = extract_answer(response)
        key = self.key(question, gold, pred, fmt)
        with self._lock:
            if key in self.cache:
                return self.cache[key]
        if fmt == "List":
            n_gold = len(parse_gold_list(gold))
            s = read_list(self._ask(LIST.format(question=question, reference=gold, prediction=pred)), n_gold)
        else:
            s = read_single(self._ask(SINGLE.format(question=question, reference=gold, prediction=pred)))
        with self._lock:
            if s is None:
                self.unreadable += 1
                return 0.0
            self.cache[key] = s
            if self.cache_path:
                with open(self.cache_path, "a") as f:
                    f.write(json.dumps({"key": key, "score": s, "prompt": PROMPT_VERSION}) + "\n")
        return s
