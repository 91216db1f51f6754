"""The records shared state keeps: breaker records, health verdicts and load readings,
immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CircuitState(str, Enum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """What a circuit breaker stores between calls.

    `opened_at` is when the breaker last opened or, while half-open, when probing began.
    """

    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    half_open_in_flight: int = 0


CLOSED_RECORD = BreakerRecord()


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """Health-check verdict for one instance; `since` is when `healthy` last changed."""

    healthy: bool
    consecutive_failures: int
    since: float


@dataclass(frozen=True, slots=True)
class LoadRecord:
    """One reading of an instance's load from its `/metrics`: requests running and waiting,
    KV-cache use and prefix-cache hit rate (0..1, None if not reported), which scrape took it
    (`serial`, so a reading read again is told from a new one) and until when it counts (in
    the caller's clock)."""

    running: float
    waiting: float
    kv_cache_usage: float | None = None
    prefix_cache_hit_rate: float | None = None
    serial: int = 0
    fresh_until: float = 0.0
