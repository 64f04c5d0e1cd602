"""The `openai` generator: a teacher VLM behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, ...).

Sends the segment's page images (JPEG data URLs, each after a "Page N" label, N 1-based in the document) and,
optionally, their text layer, with the task prompt from prompts.py; parses the strict-JSON reply into QA records.
Every request has a whole-request deadline (`timeout_s`, enforced around the call, so a server that trickles a reply
a byte at a time cannot hold it longer); transport failures (429, 5xx, timeouts, connection errors, a 200 whose body
is not a chat completion) are retried `max_retries` times with exponential backoff (honouring retry-after), then
reported with a stable reason (`TRANSPORT`), never cached, so a rerun tries them again. A reply that is not the JSON
asked for is requested again up to `json_retries` times, then rejected with its reason.
`preflight()` checks the setup before a build plans anything: key present, server reachable, model listed, one
tiny request answered; a failure is a SetupError naming the cause. Every accepted or rejected reply is cached (cache.py) so a rerun never pays twice.
The API key is read from the environment variable named by `api_key_env` and never logged or stored.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import queue
import random
import threading
from collections import Counter
from typing import Iterable, Iterator

import openai
from openai.types.chat import ChatCompletion
from PIL import Image

from ..corpus.store import Document
from ..errors import SetupError
from ..redact import redact, register_key_env
from .base import GenerationError, GenerationItem, GenerationResult, Generator, as_item
from .cache import ReplyCache, cache_key
from .config import GeneratorConfig
from .prompts import PROMPT_VERSION, SYSTEM, instruction
from .record import QARecord
from .reply import parse_reply
from .tasks import QA_TASKS, check_task

_DONE = object()
PREFLIGHT_PROMPT = "mmprolong preflight: reply with OK"
TRANSPORT = ("timeout", "rate_limited", "connection_error", "bad_response")  # and every "http_NNN"


def is_transport(reason: str) -> bool:
    """A failure of the request, not an answer of the teacher: retried on a rerun, never cached or 'done'."""
    return reason in TRANSPORT or reason.startswith("http_")


def _retry_after(e: Exception) -> float | None:
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


def failure_reason(e: BaseException) -> tuple[str, bool]:
    """(stable reason, retryable) for an exception of one request."""
    if isinstance(e, (asyncio.TimeoutError, TimeoutError, openai.APITimeoutError)):
        return "timeout", True
    if isinstance(e, openai.RateLimitError):
        return "rate_limited", True
    if isinstance(e, openai.APIStatusError):
        return f"http_{e.status_code}", e.status_code >= 500 or e.status_code in (408, 409)
    if isinstance(e, openai.APIConnectionError):
        return "connection_error", True
    if isinstance(e, (ValueError, openai.APIResponseValidationError)):  # a 200 whose body is not a completion
        return "bad_response", True
    raise e


class OpenAIGenerator(Generator):
    def __init__(self, cfg: GeneratorConfig):
        if cfg.kind != "openai":
            raise ValueError(f"OpenAIGenerator needs kind='openai', got {cfg.kind!r}")
        if not cfg.model:
            raise ValueError("generator.model: required for the openai generator")
        self.cfg = cfg
        register_key_env(cfg.api_key_env)
        self._api_key = os.environ.get(cfg.api_key_env, "")
        if not self._api_key:
            raise SetupError(f"environment variable {cfg.api_key_env} is not set (API key for the openai generator; "
                             f"use any non-empty value for endpoints without authentication)")
        self.prompt_version = cfg.prompt_version or PROMPT_VERSION
        # a reply longer than max_tokens can produce (16 characters a token, generously) is refused, not stored
        self.max_reply_chars = 16 * cfg.max_tokens + 1024
        self.name = f"openai:{cfg.model}"
        self.cache = ReplyCache(cfg.cache_dir) if cfg.cache_dir else None
        self.stats: Counter = Counter()   # requests, cache_hits, ok, rejected, failed
        self._shared_lock = threading.Lock()
        self._shared: tuple | None = None  # (pid, loop, client, semaphore) behind generate(); see _shared_loop

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIGenerator(model={self.cfg.model!r}, base_url={self.cfg.base_url!r})"

    # -- request building --------------------------------------------------------------------------------------
    def messages(self, doc: Document, segment: tuple[int, int], task: str) -> list[dict]:
        first, last = segment
        parts: list[dict] = []
        pages = sorted((p for p in doc.pages if first <= int(p["page"]) <= last), key=lambda p: int(p["page"]))
        if len(pages) != last - first + 1:
            raise GenerationError("missing_pages", f"{doc.doc_id} {segment}")
        for p in pages:
            n = int(p["page"]) + 1
            parts.append({"type": "text", "text": f"Page {n}"})
            img = p.get("image")
            if not img:
                raise GenerationError("missing_image", f"{doc.doc_id} page {n}")
            url = "data:image/jpeg;base64," + base64.b64encode(self._fit(img)).decode("ascii")
            parts.append({"type": "image_url", "image_url": {"url": url}})
            if self.cfg.send_text and (p.get("text") or "").strip():
                parts.append({"type": "text", "text": f"Text layer of page {n}:\n{p['text'].strip()}"})
        parts.append({"type": "text", "text": instruction(task, first + 1, last + 1)})
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": parts}]

    def _fit(self, jpeg: bytes) -> bytes:
        """The page JPEG, downscaled (aspect kept) when it has more than `image_max_pixels` pixels."""
        cap = self.cfg.image_max_pixels
        if not cap:
            return jpeg
        with Image.open(io.BytesIO(jpeg)) as im:
            if im.width * im.height <= cap:
                return jpeg
            scale = (cap / (im.width * im.height)) ** 0.5
            small = im.convert("RGB").resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))),
                                             Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=90)
        return buf.getvalue()

    def _client(self) -> openai.AsyncOpenAI:
        # retries are ours (_ask), so that the deadline covers each attempt whole
        return openai.AsyncOpenAI(api_key=self._api_key, base_url=self.cfg.base_url, timeout=self.cfg.timeout_s,
                                  max_retries=0)

    # -- one item ----------------------------------------------------------------------------------------------
    async def _run(self, client: openai.AsyncOpenAI, sem: asyncio.Semaphore, index: int,
                   item: GenerationItem) -> GenerationResult:
        doc, seg, task = item.doc, item.segment, item.task
        res = GenerationResult(index, doc.doc_id, seg, task, item=item)
        if task not in QA_TASKS:
            res.error = "unknown_task"
            return res
        key = cache_key(doc.doc_id, seg, task, self.prompt_version, self.cfg.model)
        meta = (doc.doc_id, seg, task, self.prompt_version, self.cfg.model)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit:
            self.stats["cache_hits"] += 1
            res.cached = True
            status, reason, content = hit
            if status != "ok":
                res.error = reason
                return res
            try:
                res.records = parse_reply(content, doc.doc_id, seg, task, self.name)
            except GenerationError as e:
                res.error = e.reason
            return res
        async with sem:
            try:
                msgs = await asyncio.to_thread(self.messages, doc, seg, task)  # JPEG work off the event loop
            except GenerationError as e:
                res.error = e.reason
                return res
            reason, content = "malformed_json", ""
            for _ in range(self.cfg.json_retries + 1):
                try:
                    content = await self._ask(client, msgs, item.seed)
                except Exception as e:  # noqa: BLE001 - classified; anything else is re-raised
                    res.error = failure_reason(e)[0]
                    res.detail = (f"no complete reply within the {self.cfg.timeout_s:g} s request deadline"
                                  if res.error == "timeout" else redact(f"{type(e).__name__}: {e}")[:300])
                    self.stats["failed"] += 1
                    return res
                if len(content) > self.max_reply_chars:   # a server that ignores max_tokens: never kept whole
                    reason, content = "reply_too_long", content[:200]
                    continue
                try:
                    res.records = parse_reply(content, doc.doc_id, seg, task, self.name)
                except GenerationError as e:
                    reason = e.reason
                    continue
                if self.cache is not None:
                    self.cache.put(key, meta, "ok", "", content)
                self.stats["ok"] += 1
                return res
        if self.cache is not None:
            self.cache.put(key, meta, "rejected", reason, content)
        self.stats["rejected"] += 1
        res.error = reason
        return res

    async def _ask(self, client: openai.AsyncOpenAI, msgs: list[dict], seed: int) -> str:
        """One chat request: each attempt under the whole-request deadline `timeout_s`, transport failures retried
        `max_retries` times with exponential backoff (or the server's retry-after)."""
        kw = {}
        if self.cfg.json_mode:
            kw["response_format"] = {"type": "json_object"}
        if self.cfg.extra:
            kw["extra_body"] = dict(self.cfg.extra)
        for attempt in range(self.cfg.max_retries + 1):
            self.stats["requests"] += 1
            try:
                resp = await asyncio.wait_for(client.chat.completions.create(
                    model=self.cfg.model, messages=msgs, temperature=self.cfg.temperature,
                    max_tokens=self.cfg.max_tokens, seed=seed % (2 ** 31), **kw), self.cfg.timeout_s)
                if not isinstance(resp, ChatCompletion):
                    raise ValueError(f"the reply is not a chat completion: {str(resp)[:80]!r}")
            except Exception as e:  # noqa: BLE001 - classified below
                _, retry = failure_reason(e)
                if not retry or attempt == self.cfg.max_retries:
                    raise
                wait = _retry_after(e)
                await asyncio.sleep(min(30.0, wait if wait is not None else 0.5 * 2 ** attempt))
                continue
            if not resp.choices:
                return ""
            return resp.choices[0].message.content or ""
        raise AssertionError("unreachable")

    # -- setup check -------------------------------------------------------------------------------------------
    def preflight(self, deadline_s: float = 30.0) -> None:
        """Check the setup before any work: server reachable, key accepted, model listed (when the server lists
        models), one tiny request answered. Raises SetupError naming the cause, in one line."""
        asyncio.run(self._preflight(min(deadline_s, self.cfg.timeout_s)))

    async def _preflight(self, t: float) -> None:
        where = self.cfg.base_url or "the OpenAI API"
        client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.cfg.base_url, timeout=t, max_retries=0)

        def cause(e: Exception, what: str) -> SetupError:
            if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
                return SetupError(f"teacher at {where} rejected the API key in ${self.cfg.api_key_env} "
                                  f"(HTTP {e.status_code})")
            reason = failure_reason(e)[0]
            text = redact(f"{type(e).__name__}: {e}").splitlines()[0][:200] if str(e) else type(e).__name__
            if reason in ("timeout", "connection_error"):
                return SetupError(f"teacher at {where} is not reachable ({reason}: {text})")
            return SetupError(f"teacher at {where} failed {what} ({reason}: {text})")

        try:
            try:
                page = await asyncio.wait_for(client.models.list(), t)
                served = [m.id for m in page.data]
            except openai.APIStatusError as e:
                if e.status_code not in (404, 405, 501):   # a server without a model list: go on
                    raise cause(e, "the model list request") from None
                served = None
            except Exception as e:  # noqa: BLE001
                raise cause(e, "the model list request") from None
            if served is not None and self.cfg.model not in served:
                raise SetupError(f"teacher at {where} does not serve model {self.cfg.model!r} "
                                 f"(it serves: {', '.join(served[:8]) or 'nothing'})")
            try:
                await asyncio.wait_for(client.chat.completions.create(
                    model=self.cfg.model, messages=[{"role": "user", "content": PREFLIGHT_PROMPT}], max_tokens=16,
                    temperature=0), t)
            except Exception as e:  # noqa: BLE001
                raise cause(e, "a one-line test request") from None
        finally:
            await client.close()

    def _shared_loop(self) -> tuple:
        """(loop, client, semaphore) that `generate` calls from any thread share: one event loop on a daemon thread
        of this process, one client (its connection pool) and one `concurrency` semaphore, so that threads calling
        `generate` at once keep up to `concurrency` requests in flight, and all request state (stats, cache writes)
        lives on that one thread. Started on first use in each process (never inherited through fork)."""
        with self._shared_lock:
            if self._shared is None or self._shared[0] != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="openai-generator-loop", daemon=True).start()

                async def make() -> tuple:
                    return self._client(), asyncio.Semaphore(self.cfg.concurrency)

                client, sem = asyncio.run_coroutine_threadsafe(make(), loop).result()
                self._shared = (os.getpid(), loop, client, sem)
            return self._shared[1:]

    # -- public ------------------------------------------------------------------------------------------------
    def generate(self, doc: Document, segment: tuple[int, int], task: str, rng: random.Random) -> list[QARecord]:
        """QA pairs for one segment (raises GenerationError with the reason when there are none). Thread-safe: calls
        from many threads share one event loop, client and `concurrency` limit (see `_shared_loop`)."""
        check_task(task)
        loop, client, sem = self._shared_loop()
        item = as_item((doc, segment, task, rng.getrandbits(31)))
        res = asyncio.run_coroutine_threadsafe(self._run(client, sem, 0, item), loop).result()
        if res.error:
            raise GenerationError(res.error, f"{doc.doc_id} {segment} {task}" + (f": {res.detail}" if res.detail
                                                                                else ""))
        return res.records

    def generate_many(self, items: Iterable) -> Iterator[GenerationResult]:
        """Results for (doc, segment, task, seed) items, in completion order (match them by `.index`).

        Keeps `concurrency` requests in flight and pulls items lazily (at most 2 x concurrency ahead of the
        consumer), so documents with images are not all held in memory. Closing the iterator early cancels the
        requests in flight.
        """
        it = iter(items)
        out: queue.Queue = queue.Queue()
        stop = threading.Event()
        window = threading.Semaphore(2 * self.cfg.concurrency)

        async def main() -> None:
            client = self._client()
            sem = asyncio.Semaphore(self.cfg.concurrency)
            tasks: set[asyncio.Task] = set()

            def done(t: asyncio.Task) -> None:
                tasks.discard(t)
                if not t.cancelled():
                    out.put(t.exception() or t.result())

            try:
                index = 0
                while not stop.is_set():
                    await asyncio.to_thread(window.acquire)
                    x = _DONE if stop.is_set() else await asyncio.to_thread(next, it, _DONE)
                    if x is _DONE:
                        break
                    t = asyncio.create_task(self._run(client, sem, index, as_item(x)))
                    t.add_done_callback(done)
                    tasks.add(t)
                    index += 1
                while tasks:
                    if stop.is_set():
                        for t in list(tasks):
                            t.cancel()
                    await asyncio.wait(set(tasks), timeout=0.2)
            finally:
                await client.close()

        def runner() -> None:
            try:
                asyncio.run(main())
            except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
                out.put(e)
            finally:
                out.put(_DONE)

        th = threading.Thread(target=runner, name="openai-generator", daemon=True)
        th.start()
        try:
            while True:
                r = out.get()
                if r is _DONE:
                    break
                if isinstance(r, BaseException):
                    raise r
                yield r
                window.release()
        finally:
            stop.set()
            window.release()
            th.join()

    def close(self) -> None:
        with self._shared_lock:
            shared, self._shared = self._shared, None
        if shared is not None and shared[0] == os.getpid():
            pid, loop, client, _ = shared
            try:
                asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=10)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            loop.call_soon_threadsafe(loop.stop)
        if self.cache is not None:
            self.cache.close()
