"""One redaction function for every error text that is stored, logged or printed.

`redact(text)` removes the values of the API-key environment variables (the configured ones, registered with
`register_key_env`, plus the usual names) and masks bearer tokens and `sk-...` style keys, so a server that echoes
the credentials it rejects cannot put them into predictions.jsonl, a rejection row, a log line or the terminal.
"""

from __future__ import annotations

import logging
import os
import re
import threading

DEFAULT_KEY_ENVS = ("OPENAI_API_KEY", "MMPROLONG_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
MASK = "***"
_MIN_SECRET = 4   # shorter values ("1", "EMPTY"...) are not secrets and would mangle every text
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]+)")
_KEYVAL = re.compile(r"(?i)\b((?:x-)?api[-_]?key|authorization|access[-_]?token)([\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\s)([^\s\"',}]{6,})")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")

_lock = threading.Lock()
_key_envs: set[str] = set(DEFAULT_KEY_ENVS)


def register_key_env(name: str | None) -> None:
    """Make the value of this environment variable redacted everywhere (called where a config names a key)."""
    if name:
        with _lock:
            _key_envs.add(name)


def _secrets() -> list[str]:
    with _lock:
        names = list(_key_envs)
    vals = {os.environ.get(n, "") for n in names}
    return sorted((v for v in vals if len(v) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: object) -> str:
    """`text` with key values removed and bearer tokens / sk- keys masked."""
    s = str(text)
    for v in _secrets():
        s = s.replace(v, MASK)
    s = _BEARER.sub(lambda m: m.group(1) + MASK, s)
    s = _KEYVAL.sub(lambda m: m.group(1) + m.group(2) + MASK, s)
    return _SK.sub(MASK, s)


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process as it is made (a record factory), whichever logger or handler it
    goes to, third-party libraries' included. Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business, not ours
            return record
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (install on handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
