"""The one state interface for what replicas must agree on: in-flight counts, rpm buckets,
breaker records and instance health.

`InMemoryState` serves one process. A Redis implementation plugs in behind the same
`SharedState` protocol; each operation's docstring says how it maps to one atomic Redis step.
Keys name one limiter, breaker or instance; each kind of record lives in its own namespace, so
the same key may hold an in-flight count, a bucket, a breaker record and a health record.

Times (`now`, `opened_at`, `since`) come from the caller's `Clock`. A shared store needs
callers whose clocks share a time base (wall time), since monotonic clocks differ per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

T = TypeVar("T")

# A bucket this close to one whole token counts as holding it, so float rounding in the
# refill can never leave a caller waiting for a few ulps forever.
_TOKEN_EPSILON = 1e-9


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


class SharedState(Protocol):
    """Counters and records that limits, breakers and health checks share across replicas.

    Every operation is O(1) and never blocks, so async code may call it directly.
    """

    def try_acquire(self, key: str, limit: int) -> bool:
        """Take one in-flight slot if fewer than `limit` are taken.

        Redis: Lua `if GET < limit then INCR; return 1 end; return 0`.
        """
        ...

    def release(self, key: str) -> None:
        """Give back one in-flight slot (never below zero). Redis: Lua DECR floored at 0."""
        ...

    def in_flight(self, key: str) -> int:
        """Slots currently taken. Redis: GET."""
        ...

    def take_token(self, key: str, rate_per_minute: int, now: float) -> float:
        """Take one token from a bucket holding up to `rate_per_minute` tokens.

        The bucket starts full and refills continuously at `rate_per_minute / 60` tokens a
        second. Returns 0.0 when a token was taken, else the seconds until one will be
        there (nothing taken). Redis: Lua over a hash {tokens, updated}, with the server's
        TIME standing in for `now`.
        """
        ...

    def breaker_record(self, key: str) -> BreakerRecord:
        """The breaker's record, `CLOSED_RECORD` if none was stored. Redis: HGETALL."""
        ...

    def update_breaker(self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]) -> T:
        """Atomically replace the record with `fn(record)[0]` and return `fn(record)[1]`.

        `fn` must be pure and quick: it runs under a lock here, and Redis runs it in a
        WATCH / HGETALL / MULTI HSET EXEC loop that may call it again after a conflict.
        """
        ...

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        """Record one health-check result and return the updated record.

        A success makes the instance healthy and clears its failure count; a failure counts
        up and makes it unhealthy once `failure_threshold` consecutive failures are reached.
        Redis: Lua over a hash {healthy, failures, since}.
        """
        ...

    def health(self, key: str) -> HealthRecord | None:
        """The instance's last health record, None if never checked. Redis: HGETALL."""
        ...

    def reset(self, prefix: str | None = None) -> None:
        """Forget every record whose key starts with `prefix` (all records when None).

        Slots still held when their count is forgotten release into a floor of zero, so the
        concurrency limit may be exceeded briefly. Redis: SCAN MATCH prefix* then DEL.
        """
        ...


class InMemoryState:
    """`SharedState` for one process: plain dicts behind one lock.

    Reads take no lock: a dict lookup is atomic and records are immutable.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, updated_at]
        self._breakers: dict[str, BreakerRecord] = {}
        self._health: dict[str, HealthRecord] = {}

    def try_acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            taken = self._in_flight.get(key, 0)
            if taken >= limit:
                return False
            self._in_flight[key] = taken + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            taken = self._in_flight.get(key, 0)
            if taken > 1:
                self._in_flight[key] = taken - 1
            else:
                self._in_flight.pop(key, None)

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def take_token(self, key: str, rate_per_minute: int, now: float) -> float:
        per_second = rate_per_minute / 60.0
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._buckets[key] = [rate_per_minute - 1.0, now]
                return 0.0
            elapsed = now - bucket[1]
            tokens = bucket[0]
            if elapsed > 0:
                tokens = min(float(rate_per_minute), tokens + elapsed * per_second)
                bucket[1] = now
            if tokens >= 1.0 - _TOKEN_EPSILON:
                bucket[0] = max(tokens - 1.0, 0.0)
                return 0.0
            bucket[0] = tokens
            return (1.0 - tokens) / per_second

    def breaker_record(self, key: str) -> BreakerRecord:
        return self._breakers.get(key, CLOSED_RECORD)

    def update_breaker(self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]) -> T:
        with self._lock:
            old = self._breakers.get(key, CLOSED_RECORD)
            new, result = fn(old)
            if new is not old:
                self._breakers[key] = new
            return result

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        with self._lock:
            old = self._health.get(key)
            was_healthy = old.healthy if old is not None else True
            failures = 0 if ok else (old.consecutive_failures if old is not None else 0) + 1
            healthy = ok or (was_healthy and failures < failure_threshold)
            since = old.since if old is not None and healthy == old.healthy else now
            record = HealthRecord(healthy, failures, since)
            self._health[key] = record
            return record

    def health(self, key: str) -> HealthRecord | None:
        return self._health.get(key)

    def reset(self, prefix: str | None = None) -> None:
        with self._lock:
            for table in (self._in_flight, self._buckets, self._breakers, self._health):
                if prefix is None:
                    table.clear()
                else:
                    for key in [k for k in table if k.startswith(prefix)]:
                        del table[key]
