"""Model verification: a VLM behind an OpenAI-compatible server answers each question again, and the eval's scorer
says whether its answer matches the teacher's (the rule checks of verify.py only see that an answer *occurs* on
the evidence pages, not that it is *the* answer).

Checks (`VerifyConfig.checks`, recipe key `verify:`):

- evidence: the evidence pages alone, shown as the training sample shows them ("Page N:" marker when the recipe
  has page markers, then the page image), then the question under the eval's own instruction. An answer that
  `score_docqa(answer, teacher_answer, answer_format)` scores below `min_score` -> `verifier_disagrees`.
- closed_book: the question with no document. An answer the scorer accepts -> `answerable_without_document`
  (such a question teaches nothing about reading the document). Skipped for "None" (not answerable) answers.
- instance: the whole assembled training instance (dataset/document.py asks after assembly) ->
  `verifier_disagrees_instance`.

A request that fails after the client's retries gives `verifier_failed`: an item that could not be verified is not
kept; transport failures are not cached, so a rerun asks again. The transport is the teacher's own
(`OpenAIGenerator`): the same client settings (timeouts, retries with backoff), one event loop, client and
`concurrency` limit per process shared by every thread, the sqlite reply cache under `cache_dir`, and the API key
read from the environment variable `api_key_env` names (never logged, never stored).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field

import openai

from ..corpus.store import Document
from .cache import cache_key
from .config import GeneratorConfig, VerifyConfig
from .prompts import VERIFY_PROMPT_VERSION, verifier_question
from .record import QARecord

log = logging.getLogger(__name__)

MODEL_FAILURES = ("verifier_disagrees", "answerable_without_document", "verifier_disagrees_instance",
                  "verifier_failed")
USAGE_KEYS = ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "failed")


class VerifierError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Verdict:
    """What the model checks said about one item."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)    # check -> the verifier's raw reply
    usage: Counter = field(default_factory=Counter)           # USAGE_KEYS

    @property
    def agrees(self) -> bool:
        return "verifier_agrees" in self.passed


def _reason(e: Exception) -> str:
    if isinstance(e, openai.APITimeoutError):
        return "timeout"
    if isinstance(e, openai.RateLimitError):
        return "rate_limited"
    if isinstance(e, openai.APIStatusError):
        return f"http_{e.status_code}"
    return "connection_error"


def agrees(reply: str, qa: QARecord, min_score: float) -> bool:
    """Whether a reply answers `qa` right, by the evaluation's own scorer (an answer its format cannot hold, e.g.
    "10.6" as an Integer, agrees with nothing)."""
    from ..eval.scorers.docqa import score_docqa

    try:
        return score_docqa(reply, qa.answer, qa.answer_format) >= min_score
    except ValueError:
        return False


class Verifier:
    def __init__(self, cfg: VerifyConfig | dict, page_markers: bool = True):
        cfg = VerifyConfig(**cfg) if isinstance(cfg, dict) else cfg
        if not cfg.enabled:
            raise ValueError("verify.kind: 'none' has no model to verify with")
        if not os.environ.get(cfg.api_key_env, ""):
            raise ValueError(f"environment variable {cfg.api_key_env} is not set (API key for the verifier, "
                             f"verify.api_key_env; use any non-empty value for endpoints without authentication)")
        from .openai_gen import OpenAIGenerator

        self.cfg, self.page_markers = cfg, page_markers
        self.name = f"verifier:{cfg.model}"
        self._transport = OpenAIGenerator(GeneratorConfig(
            kind="openai", model=cfg.model, base_url=cfg.base_url, api_key_env=cfg.api_key_env,
            concurrency=cfg.concurrency, timeout_s=cfg.timeout_s, max_retries=cfg.max_retries,
            cache_dir=cfg.cache_dir, image_max_pixels=cfg.image_max_pixels, temperature=cfg.temperature,
            max_tokens=cfg.max_tokens, json_mode=False, extra=cfg.extra))
        self.stats: Counter = Counter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the key
        return f"Verifier(model={self.cfg.model!r}, base_url={self.cfg.base_url!r}, checks={self.cfg.checks})"

    # -- requests ----------------------------------------------------------------------------------------------
    def _content(self, parts: list[dict], doc: Document) -> list[dict]:
        """Training-sample content parts ({"type": "image", "page": p}) as OpenAI parts (JPEG data URLs)."""
        out = []
        for part in parts:
            if part.get("type") != "image":
                out.append({"type": "text", "text": part["text"]})
                continue
            img = doc.pages[int(part["page"])].get("image")
            if not img:
                raise VerifierError("missing_image")
            url = "data:image/jpeg;base64," + base64.b64encode(self._transport._fit(img)).decode("ascii")
            out.append({"type": "image_url", "image_url": {"url": url}})
        return out

    def evidence_messages(self, qa: QARecord, doc: Document) -> list[dict]:
        from ..dataset.assemble import build_messages

        user = build_messages(doc, sorted({int(p) for p in qa.evidence_pages}), verifier_question(qa.question), "",
                              page_markers=self.page_markers)[0]
        return [{"role": "user", "content": self._content(user["content"], doc)}]

    @staticmethod
    def closed_book_messages(qa: QARecord) -> list[dict]:
        return [{"role": "user", "content": [{"type": "text", "text": verifier_question(qa.question, True)}]}]

    def instance_messages(self, qa: QARecord, messages: list[dict], doc: Document) -> list[dict]:
        """The assembled instance's user turn, its final question under the eval's instruction."""
        user = next(m for m in messages if m["role"] == "user")
        parts = list(user["content"])
        if parts and parts[-1].get("type") == "text":
            parts = parts[:-1]
        parts.append({"type": "text", "text": verifier_question(qa.question)})
        return [{"role": "user", "content": self._content(parts, doc)}]

    def _key(self, qa: QARecord, check: str, extra: object = None) -> tuple[str, tuple]:
        blob = json.dumps([check, qa.question, sorted(qa.evidence_pages), self.page_markers, self.cfg.image_max_pixels,
                           self.cfg.temperature, extra], ensure_ascii=False)
        task = f"verify:{check}:{hashlib.sha256(blob.encode()).hexdigest()[:20]}"
        meta = (qa.doc_id, qa.segment, task, VERIFY_PROMPT_VERSION, self.cfg.model)
        return cache_key(*meta), meta

    async def _ask(self, client: openai.AsyncOpenAI, sem: asyncio.Semaphore, key: str, meta: tuple,
                   msgs: list[dict], usage: Counter) -> str:
        cache = self._transport.cache
        hit = cache.get(key) if cache is not None else None
        if hit and hit[0] == "ok":
            usage["cache_hits"] += 1
            return hit[2]
        kw = {"extra_body": dict(self.cfg.extra)} if self.cfg.extra else {}
        async with sem:
            usage["requests"] += 1
            try:
                resp = await client.chat.completions.create(model=self.cfg.model, messages=msgs,
                                                            temperature=self.cfg.temperature,
                                                            max_tokens=self.cfg.max_tokens, seed=0, **kw)
            except openai.APIError as e:
                usage["failed"] += 1
                raise VerifierError(_reason(e)) from None
        if resp.usage is not None:
            usage["prompt_tokens"] += int(resp.usage.prompt_tokens or 0)
            usage["completion_tokens"] += int(resp.usage.completion_tokens or 0)
        content = (resp.choices[0].message.content or "") if resp.choices else ""
        if cache is not None:
            cache.put(key, meta, "ok", "", content)
        return content

    async def _verdict(self, client, sem, jobs: dict[str, tuple], qa: QARecord) -> Verdict:
        """jobs: check -> (messages builder, cache extra). Requests of one item run at once."""
        v = Verdict()

        async def one(check: str, build, extra) -> str:
            msgs = await asyncio.to_thread(build)   # JPEG work off the event loop
            key, meta = self._key(qa, check, extra)
            return await self._ask(client, sem, key, meta, msgs, v.usage)

        replies = await asyncio.gather(*(one(c, b, x) for c, (b, x) in jobs.items()), return_exceptions=True)
        for check, r in zip(jobs, replies):
            if isinstance(r, VerifierError):
                log.warning("verifier %s check of %s failed: %s", check, qa.qa_id, r.reason)
                v.failed.append("verifier_failed")
                continue
            if isinstance(r, BaseException):
                raise r
            v.answers[check] = r
            ok = agrees(r, qa, self.cfg.min_score)
            if check == "evidence":
                (v.passed if ok else v.failed).append("verifier_agrees" if ok else "verifier_disagrees")
            elif check == "closed_book":
                (v.failed if ok else v.passed).append("answerable_without_document" if ok else "needs_document")
            else:
                (v.passed if ok else v.failed).append("verifier_agrees_instance" if ok
                                                      else "verifier_disagrees_instance")
        v.failed = list(dict.fromkeys(v.failed))
        with self._lock:
            self.stats.update(v.usage)
        return v

    def _run(self, jobs: dict[str, tuple], qa: QARecord) -> Verdict:
        if not jobs:
            return Verdict()
        loop, client, sem = self._transport._shared_loop()
        return asyncio.run_coroutine_threadsafe(self._verdict(client, sem, jobs, qa), loop).result()

    # -- public ------------------------------------------------------------------------------------------------
    def check(self, qa: QARecord, doc: Document) -> Verdict:
        """The evidence and closed-book checks of one item (those the config names). Thread-safe."""
        jobs: dict[str, tuple] = {}
        if "evidence" in self.cfg.checks:
            jobs["evidence"] = (lambda: self.evidence_messages(qa, doc), None)
        if "closed_book" in self.cfg.checks and qa.answer_format != "None":
            jobs["closed_book"] = (lambda: self.closed_book_messages(qa), None)
        return self._run(jobs, qa)

    def check_instance(self, qa: QARecord, messages: list[dict], doc: Document) -> Verdict:
        """The whole-instance check (when the config names it): the assembled sample's pages, then the question."""
        if "instance" not in self.cfg.checks:
            return Verdict()
        pages = [int(p["page"]) for m in messages if m["role"] == "user" for p in m["content"]
                 if p.get("type") == "image"]
        return self._run({"instance": (lambda: self.instance_messages(qa, messages, doc), pages)}, qa)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_verifier(cfg: VerifyConfig | dict | None, page_markers: bool = True) -> Verifier | None:
    """A Verifier, or None when model verification is off (kind "none")."""
    if cfg is None:
        return None
    cfg = VerifyConfig(**cfg) if isinstance(cfg, dict) else cfg
    return Verifier(cfg, page_markers) if cfg.enabled else None
