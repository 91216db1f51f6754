"""The records shared state keeps: breaker records and health verdicts, immutable values."""

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
