"""Counts of one wrapper's cache lookups: hits by kind, misses, bypasses, and trouble."""

from __future__ import annotations

import threading
from typing import Any


class CacheStats:
    """Thread-safe counters; `snapshot()` adds the hit rates."""

    _FIELDS = (
        "exact_hits",
        "semantic_hits",
        "misses",
        "bypassed",
        "stored",
        "dropped",
        "embedding_failures",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self._FIELDS, 0)

    def add(self, field: str, count: int = 1) -> None:
        with self._lock:
            self._counts[field] += count

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._FIELDS, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        looked_up = counts["exact_hits"] + counts["semantic_hits"] + counts["misses"]

        def rate(hits: int) -> float | None:
            return hits / looked_up if looked_up else None

        return {
            **counts,
            "lookups": looked_up,
            "hit_rate": rate(counts["exact_hits"] + counts["semantic_hits"]),
            "exact_hit_rate": rate(counts["exact_hits"]),
            "semantic_hit_rate": rate(counts["semantic_hits"]),
        }
