"""`openai` backend: any OpenAI-compatible chat server (vLLM, SGLang, hosted); images sent inline as data URLs.

Every request has a whole-request deadline (`timeout`, enforced around the call, so a server that trickles its reply
cannot hold it longer) and `max_retries` retries with backoff for connection errors, timeouts, 429 and 5xx. The
runner's threads share one event loop and client on a daemon thread. `check()` says before a run whether the
server is reachable, accepts the key and serves the model (SetupError naming the cause). The API key is read from
the environment variable named by `api_key_env` and is never logged or written (the runner redacts predictions
and errors alike: a gateway can echo the key inside a 200 answer too).

A reply is read as a byte stream and given up once it passes `max_reply_bytes` (`ReplyTooLarge`, reason
`reply_too_large`): a server that ignores `max_tokens` cannot fill memory or predictions.jsonl.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ..images import jpeg_data_url


class OpenAIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    concurrency: int = Field(default=4, ge=1)
    jpeg_quality: int = Field(default=90, ge=1, le=100)
    max_reply_bytes: int = Field(default=2**20, ge=1024)  # a whole HTTP reply body; 256 tokens take ~2 KB


class ReplyTooLarge(Exception):
    """The server's reply passed `max_reply_bytes`; it is not kept (the request is an error, not retried)."""


def to_openai_messages(messages: list[dict], images: list[Image.Image], quality: int = 90) -> list[dict]:
    out, k = [], 0
    for m in messages:
        if isinstance(m["content"], str):
            out.append({"role": m["role"], "content": m["content"]})
            continue
        parts = []
        for p in m["content"]:
            if p["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": jpeg_data_url(images[k], quality)}})
                k += 1
            else:
                parts.append({"type": "text", "text": p["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


class OpenAIBackend:
    def __init__(self, cfg: OpenAIConfig):
        from ...redact import register_key_env

        register_key_env(cfg.api_key_env)
        self.cfg = cfg
        self.name = f"openai:{cfg.model}"
        self.concurrency = cfg.concurrency
        self._api_key = os.environ.get(cfg.api_key_env) or "EMPTY"
        self._lock = threading.Lock()
        self._loop_state: tuple | None = None   # (pid, loop, client)

    def _loop(self) -> tuple:
        with self._lock:
            if self._loop_state is None or self._loop_state[0] != os.getpid():
                from openai import AsyncOpenAI

                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="openai-backend-loop", daemon=True).start()

                async def make():
                    return AsyncOpenAI(base_url=self.cfg.base_url, api_key=self._api_key, timeout=self.cfg.timeout,
                                       max_retries=0)

                self._loop_state = (os.getpid(), loop, asyncio.run_coroutine_threadsafe(make(), loop).result())
            return self._loop_state[1:]

    async def _ask(self, client, msgs: list[dict]) -> str:
        from ...synth.openai_gen import _retry_after, failure_reason

        for attempt in range(self.cfg.max_retries + 1):
            try:
                return await asyncio.wait_for(self._request(client, msgs), self.cfg.timeout)
            except ReplyTooLarge:
                raise
            except Exception as e:  # noqa: BLE001 - classified: retried, or raised to the runner (recorded)
                reason, retry = failure_reason(e)
                if not retry or attempt == self.cfg.max_retries:
                    if reason == "timeout":
                        raise TimeoutError(f"no complete reply within the {self.cfg.timeout:g} s request deadline "
                                           f"(attempt {attempt + 1})") from None
                    raise
                wait = _retry_after(e)
                await asyncio.sleep(min(30.0, wait if wait is not None else 0.5 * 2 ** attempt))
        raise AssertionError("unreachable")

    async def _request(self, client, msgs: list[dict]) -> str:
        """One request, its body read in chunks up to `max_reply_bytes` (the SDK would read any size whole)."""
        cap = self.cfg.max_reply_bytes
        body = bytearray()
        async with client.chat.completions.with_streaming_response.create(
                model=self.cfg.model, messages=msgs, max_tokens=self.cfg.max_new_tokens,
                temperature=self.cfg.temperature) as resp:
            async for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > cap:
                    raise ReplyTooLarge(f"reply_too_large: the reply passed max_reply_bytes ({cap:,} bytes); "
                                        "not kept")
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f"not a chat completion ({type(e).__name__}: {str(e)[:120]})") from None
        if content is not None and not isinstance(content, str):
            raise ValueError(f"not a chat completion (content is a {type(content).__name__})")
        return content or ""

    def generate(self, messages: list[dict], images: list[Image.Image]) -> str:
        loop, client = self._loop()
        msgs = to_openai_messages(messages, images, self.cfg.jpeg_quality)
        return asyncio.run_coroutine_threadsafe(self._ask(client, msgs), loop).result()

    def check(self, deadline_s: float = 30.0) -> None:
        """Raise SetupError when the server is unreachable, rejects the key, or does not list the model."""
        import openai

        from ...errors import SetupError
        from ...redact import redact

        where = self.cfg.base_url
        loop, client = self._loop()
        t = min(deadline_s, self.cfg.timeout)
        try:
            page = asyncio.run_coroutine_threadsafe(asyncio.wait_for(client.models.list(), t), loop).result()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise SetupError(f"eval backend at {where} rejected the API key in ${self.cfg.api_key_env} "
                             f"(HTTP {e.status_code})") from None
        except openai.APIStatusError:
            return   # it answers; a server without a model list
        except Exception as e:  # noqa: BLE001
            text = redact(f"{type(e).__name__}: {e}").splitlines()[0][:200]
            raise SetupError(f"eval backend at {where} is not reachable ({text})") from None
        served = [m.id for m in page.data]
        if self.cfg.model not in served:
            raise SetupError(f"eval backend at {where} does not serve model {self.cfg.model!r} "
                             f"(it serves: {', '.join(served[:8]) or 'nothing'})")

    def describe(self) -> dict:
        return self.cfg.model_dump()  # the key's *name* only, never its value
