"""The most recent chat-completion requests a simulator received, readable from any thread."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CAPTURE_LIMIT = 100


@dataclass(frozen=True)
class CapturedRequest:
    """One chat-completion request as it arrived.

    `path` is the request path without its query string; `headers` has lower-cased names
    and the values as sent (so `headers["authorization"]` is the raw credential); `body` is
    the parsed JSON body, or None when the body was not valid JSON.
    """

    path: str
    headers: Mapping[str, str]
    body: Any


class RequestLog:
    """A bounded, thread-safe log: the server loop appends, tests read and clear."""

    def __init__(self, limit: int = DEFAULT_CAPTURE_LIMIT) -> None:
        if limit < 0:
            raise ValueError(f"capture limit must be >= 0, got {limit}")
        self._lock = threading.Lock()
        self._entries: deque[CapturedRequest] = deque(maxlen=limit)

    def add(self, entry: CapturedRequest) -> None:
        """Keep `entry`, forgetting the oldest one when the log is full."""
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[CapturedRequest]:
        """The kept requests, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every kept request."""
        with self._lock:
            self._entries.clear()
