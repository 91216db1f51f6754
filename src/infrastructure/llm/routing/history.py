"""Fallback history: each hop from a spent target to the next, kept in a bounded window."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FallbackEvent:
    """One hop from a spent target to the next; `time` is wall-clock seconds."""

    time: float
    from_target: str
    to_target: str
    reason: str
    error_type: str


class FallbackHistory:
    """The last `size` hops, oldest first."""

    def __init__(self, size: int = 200) -> None:
        self._events: deque[FallbackEvent] = deque(maxlen=size)
        self._lock = threading.Lock()

    def extend(self, events: Iterable[FallbackEvent]) -> None:
        with self._lock:
            self._events.extend(events)

    def as_dicts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The events as dicts, the last `limit` of them (all when None)."""
        with self._lock:
            events = list(self._events)
        return [asdict(e) for e in (events[-limit:] if limit else events)]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)
