"""The one state interface for what replicas must agree on: in-flight slots, rpm windows,
breaker records, cool-downs and instance health.

The routing's hot path asks two questions per attempt, each one atomic step of the state:
`admit` (may a call go to this instance now? checks its cool-down, breaker and limits, and
takes a slot, an rpm admission and a probe together) and `settle` (what came of it). Async callers
await `aadmit`/`asettle` unless the state is `local`, whose operations never block.

`InMemoryState` serves one process. A networked implementation plugs in behind the same
`SharedState` protocol. Keys name one limiter, breaker, instance or health record; each kind
of record lives in its own namespace.

Times (`now`, `opened_at`, `since`) come from the caller's `Clock`. A networked store keeps
time by its own clock and hands records back in the caller's (`RedisState` reads the server's
clock in every step), so replicas need not agree on the time.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

from infrastructure.llm.resilience.admission import (
    FREE_TICKET,
    Gate,
    Reason,
    Refusal,
    Ticket,
    Verdict,
)
from infrastructure.llm.resilience.circuit_breaker import (
    Grant,
    fail,
    grant,
    release_probe,
    succeed,
)
from infrastructure.llm.resilience.limits import RPM_WINDOW
from infrastructure.llm.resilience.records import (
    CLOSED_RECORD,
    BreakerRecord,
    CircuitState,
    HealthRecord,
    LoadRecord,
)

__all__ = [
    "CLOSED_RECORD",
    "BreakerRecord",
    "CircuitState",
    "HealthRecord",
    "InMemoryState",
    "LoadRecord",
    "SharedState",
    "Transition",
]

T = TypeVar("T")

Transition = tuple[CircuitState, CircuitState]
"""A breaker's state before and after a step that changed it."""

# An admission this close to leaving the window counts as gone, so float rounding in `now`
# plus a refusal's wait can never leave a caller waiting for a few ulps forever.
_WINDOW_EPSILON = 1e-9


class SharedState(Protocol):
    """Counters and records that limits, breakers and health checks share across replicas."""

    local: bool
    """True when every operation is in-process and never blocks, so async code may call the
    sync methods directly; False when async code must await `aadmit` and `asettle`."""

    def admit(self, gate: Gate, now: float) -> Ticket | Refusal:
        """One atomic step: refuse while the instance cools down or its breaker is open;
        else take a concurrency slot and record an rpm admission (both, or neither) and,
        half-open, a probe. The rpm limit admits at most `rpm_limit` calls in any trailing
        60 seconds. A refusal's `wait` says when to look again: for FULL, until the oldest
        admission in the window leaves it (0 when only a slot is missing); for OPEN and
        COOLING_DOWN, until the instance is back.
        """
        ...

    def settle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        """One atomic step: apply `verdict` to the breaker, give the slot back (unless the
        stream goes on), and cool the instance down for `cooldown` seconds (0: none).
        Returns the breaker's transition when it changed state."""
        ...

    async def aadmit(self, gate: Gate, now: float) -> Ticket | Refusal:
        """`admit` for async callers of a state that is not `local`."""
        ...

    async def asettle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        """`settle` for async callers of a state that is not `local`."""
        ...

    def release(self, key: str) -> None:
        """Give back one in-flight slot (never below zero)."""
        ...

    def in_flight(self, key: str) -> int:
        """Slots currently taken."""
        ...

    def breaker_record(self, key: str) -> BreakerRecord:
        """The breaker's record, `CLOSED_RECORD` if none was stored."""
        ...

    def update_breaker(self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]) -> T:
        """Atomically replace the record with `fn(record)[0]` and return `fn(record)[1]`.

        `fn` must be pure and quick: it runs under a lock here, and a networked store may run
        it again after a conflicting write.
        """
        ...

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        """Record one health-check result and return the updated record.

        A success makes the instance healthy and clears its failure count; a failure counts
        up and makes it unhealthy once `failure_threshold` consecutive failures are reached.
        """
        ...

    def health(self, key: str) -> HealthRecord | None:
        """The instance's last health record, None if never checked."""
        ...

    def reset(self, prefix: str | None = None) -> None:
        """Forget every record whose key starts with `prefix` (all records when None).

        Slots still held when their count is forgotten release into a floor of zero, so the
        concurrency limit may be exceeded briefly.
        """
        ...

    def claim_probe(self, key: str, interval: float, now: float) -> bool:
        """True when this caller should probe `key` now (health-check an instance, or scrape
        its metrics): across replicas, one caller a key per `interval` seconds is told to."""
        ...

    def publish_load(self, key: str, record: LoadRecord, ttl: float, now: float) -> None:
        """Share one load reading of instance `key`; it counts for `ttl` seconds."""
        ...

    def loads(self, keys: Sequence[str], now: float) -> list[LoadRecord | None]:
        """The load reading of each of `keys` still counting (None: none), `fresh_until` set
        in the caller's clock."""
        ...

    def status(self) -> str:
        """Where the records live now, for logs and stats: "memory", "shared", or "local
        (degraded since <ISO-8601 UTC time>)" while a shared store is out of reach."""
        ...


class InMemoryState:
    """`SharedState` for one process: plain dicts behind one lock.

    Reads take no lock: a dict lookup is atomic and records are immutable. The common case of
    `admit` and `settle` (no limits, breaker closed with no failures counted) only reads.
    """

    local = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._windows: dict[str, deque[float]] = {}  # key -> admission times, oldest first
        self._breakers: dict[str, BreakerRecord] = {}
        self._cooldowns: dict[str, float] = {}
        self._health: dict[str, HealthRecord] = {}
        self._loads: dict[str, LoadRecord] = {}

    # -- the hot path ------------------------------------------------------------------------

    def admit(self, gate: Gate, now: float) -> Ticket | Refusal:
        until = self._cooldowns.get(gate.instance_key)
        if until is not None and until > now:
            return Refusal(Reason.COOLING_DOWN, until - now)
        limits = gate.limits
        if limits is None and self._breakers.get(gate.breaker_key) is None:
            return FREE_TICKET
        with self._lock:
            record = self._breakers.get(gate.breaker_key, CLOSED_RECORD)
            new_record, granted = grant(record, gate.policy, now)
            if granted is Grant.REFUSED:  # open; or half-open with every probe out (wait 0)
                back = record.opened_at + gate.policy.recovery_time - now
                return Refusal(Reason.OPEN, back if record.state is CircuitState.OPEN else 0.0)
            slot = False
            if limits is not None:
                concurrency = limits.concurrency_limit
                taken = self._in_flight.get(limits.key, 0)
                if concurrency is not None and taken >= concurrency:
                    return Refusal(Reason.FULL)
                if limits.rpm_limit is not None:
                    wait = self._admit_in_window(limits.key, limits.rpm_limit, now)
                    if wait > 0.0:
                        return Refusal(Reason.FULL, wait)
                if concurrency is not None:
                    self._in_flight[limits.key] = taken + 1
                    slot = True
            if new_record is not record:
                self._breakers[gate.breaker_key] = new_record
        probe = granted is Grant.PROBE
        return Ticket(slot, probe) if slot or probe else FREE_TICKET

    def settle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        key = gate.breaker_key
        release_slot = ticket.slot and verdict is not Verdict.STREAM_OPENED
        if verdict is Verdict.ANSWERED or verdict is Verdict.STREAM_OPENED:
            if not release_slot and self._breakers.get(key) is None:
                return None  # closed with no failures counted: nothing to write
        elif verdict is Verdict.STREAM_ENDED or (verdict is Verdict.ABANDONED and not ticket.probe):
            if release_slot:
                self.release(gate.limits.key)  # type: ignore[union-attr]
            return None
        with self._lock:
            if release_slot:
                self._release_slot(gate.limits.key)  # type: ignore[union-attr]
            old = self._breakers.get(key, CLOSED_RECORD)
            if verdict is Verdict.FAILED or verdict is Verdict.MISCONFIGURED:
                new = fail(old, gate.policy, now)
                if verdict is Verdict.MISCONFIGURED:
                    cooldown = max(cooldown, gate.policy.recovery_time)
                if cooldown > 0.0:
                    until = now + cooldown
                    if until > self._cooldowns.get(gate.instance_key, 0.0):
                        self._cooldowns[gate.instance_key] = until
            elif verdict is Verdict.OUTRUN:
                new = fail(old, gate.policy, now)
            elif verdict is Verdict.ABANDONED:
                new = release_probe(old)
            else:
                new = succeed(old)
            if new is old:
                return None
            if new is CLOSED_RECORD:
                self._breakers.pop(key, None)
            else:
                self._breakers[key] = new
        return (old.state, new.state) if old.state is not new.state else None

    async def aadmit(self, gate: Gate, now: float) -> Ticket | Refusal:
        return self.admit(gate, now)

    async def asettle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        return self.settle(gate, ticket, verdict, now, cooldown)

    # -- single records ----------------------------------------------------------------------

    def release(self, key: str) -> None:
        with self._lock:
            self._release_slot(key)

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def breaker_record(self, key: str) -> BreakerRecord:
        return self._breakers.get(key, CLOSED_RECORD)

    def update_breaker(self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, T]]) -> T:
        with self._lock:
            old = self._breakers.get(key, CLOSED_RECORD)
            new, result = fn(old)
            if new is not old:
                if new is CLOSED_RECORD:
                    self._breakers.pop(key, None)
                else:
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
            tables = (
                self._in_flight,
                self._windows,
                self._breakers,
                self._cooldowns,
                self._health,
                self._loads,
            )
            for table in tables:
                if prefix is None:
                    table.clear()
                else:
                    for key in [k for k in table if k.startswith(prefix)]:
                        del table[key]

    def claim_probe(self, key: str, interval: float, now: float) -> bool:
        return True  # one process: its own schedule already spaces the probes

    def publish_load(self, key: str, record: LoadRecord, ttl: float, now: float) -> None:
        self._loads[key] = replace(record, fresh_until=now + ttl)

    def loads(self, keys: Sequence[str], now: float) -> list[LoadRecord | None]:
        found = map(self._loads.get, keys)
        return [r if r is not None and r.fresh_until > now else None for r in found]

    def status(self) -> str:
        return "memory"

    # -- helpers, called under the lock ------------------------------------------------------

    def _release_slot(self, key: str) -> None:
        taken = self._in_flight.get(key, 0)
        if taken > 1:
            self._in_flight[key] = taken - 1
        else:
            self._in_flight.pop(key, None)

    def _admit_in_window(self, key: str, limit: int, now: float) -> float:
        """Record an admission at `now` unless `limit` were made in the trailing window: 0.0
        then, else the seconds until the oldest of them leaves it."""
        times = self._windows.get(key)
        if times is None:
            times = self._windows[key] = deque()
        gone = now - RPM_WINDOW + _WINDOW_EPSILON
        while times and times[0] <= gone:
            times.popleft()
        if len(times) >= limit:
            return times[0] + RPM_WINDOW - now
        # A time never earlier than the last keeps the log sorted when threads read the clock
        # out of order (the admission then counts a little longer: never too many).
        times.append(max(now, times[-1]) if times else now)
        return 0.0
