"""Secrets out of every text this package produces: errors, histories, reprs, logs, CLI lines.

Two nets: the exact values of every key this process was configured with (`remember`), and
patterns for secrets whatever their value (OpenAI-style keys, bearer tokens, `key=value`
pairs, `user:password@` in URLs). A server that echoes a request's Authorization header in
its error message is caught by both.

`scrub` cleans an exception in place, and the exceptions chained to it, so the error a
caller catches, its traceback and what callbacks see carry no secret either.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_PATTERNS = (
    # OpenAI-style keys: sk-..., sk-proj-...
    (re.compile(r"\bsk-[A-Za-z0-9_\-]+"), "sk-***"),
    # Authorization headers.
    (re.compile(r"(?i)\bbearer\s+[^\s,;'\"]+"), "Bearer ***"),
    # api_key=..., token: ..., ?key=... in URLs, password=...
    (
        re.compile(
            r"(?i)\b(api[_-]?key|access[_-]?token|token|secret|password|key)"
            r"(['\"]?\s*[=:]\s*['\"]?)[^\s&,;'\"]+"
        ),
        r"\1\2***",
    ),
    # Credentials in URLs: scheme://user:password@host
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
)

# Shorter values are placeholders ("EMPTY", "none"), not secrets; masking them would garble text.
_SHORTEST_SECRET = 8

_known: frozenset[str] = frozenset()
_lock = threading.Lock()


def remember(secret: str | None) -> None:
    """Mask `secret` wherever it appears from now on (values under 8 characters are not)."""
    global _known
    if secret and len(secret) >= _SHORTEST_SECRET and secret not in _known:
        with _lock:
            _known = _known | {secret}


def redact(text: str) -> str:
    """`text` with every remembered secret, API key, bearer token, `key=value` secret and URL
    password masked."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str) -> str:
    """`text` redacted and on one line, for a log record."""
    return " | ".join(line.strip() for line in redact(text).splitlines() if line.strip())


def public_url(url: str) -> str:
    """`url` without its `user:password@` part, anything else secret masked."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        url = urlunsplit(parts._replace(netloc=netloc))
    return redact(url)


def scrub(exc: BaseException) -> BaseException:
    """Redact `exc` in place (its args, `message` and `body`), and the exceptions chained to it
    as cause or context; returns `exc`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(_clean(arg) for arg in current.args)
        for name in ("message", "body"):
            value = getattr(current, name, None)
            if isinstance(value, (str, dict, list)):
                with contextlib.suppress(AttributeError):  # a read-only property
                    setattr(current, name, _clean(value))
        current = current.__cause__ or current.__context__
    return exc


def _clean(value: Any) -> Any:
    """`value` with every string in it redacted (dicts and lists walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value
