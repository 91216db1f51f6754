"""Per-instance circuit breaker: stop sending calls to an instance that keeps failing.

closed --(failure_threshold consecutive failures)--> open --(recovery_time)--> half_open
half_open --(a probe succeeds)--> closed;  half_open --(a probe fails)--> open

The state machine is a handful of pure functions over an immutable `BreakerRecord`
(`grant`, `succeed`, `fail`, `release_probe`), in the manner of resilience4j's breaker with its
pluggable clock. Whatever stores the record applies them atomically: `InMemoryState` under its
lock, a networked store in one scripted step. `CircuitBreaker` is a view of one record for
stats, tests and operators; the routing engine reaches the same functions through the state's
`admit` and `settle`.

What counts (errors classified by `error_classification.classify`):
  * success: the instance answered, including a FATAL error such as a 400: the request was
    bad, the instance is alive;
  * failure: a RETRYABLE or MISCONFIGURED error raised by the instance's call;
  * release: the call ended with no verdict on the instance (cancelled, the caller's own
    deadline passed, a hedged twin won): a half-open probe slot is given back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Protocol

from infrastructure.llm.clock import Clock
from infrastructure.llm.resilience.records import CLOSED_RECORD, BreakerRecord, CircuitState

__all__ = [
    "BreakerPolicy",
    "CircuitBreaker",
    "CircuitState",
    "Grant",
    "TransitionListener",
    "fail",
    "grant",
    "release_probe",
    "succeed",
]

TransitionListener = Callable[[str, CircuitState, CircuitState], None]
"""Called as `listener(key, old_state, new_state)` after this process changes the state."""


class BreakerSettings(Protocol):
    """The fields `BreakerPolicy.from_config` reads (a fallback config's circuit_breaker)."""

    failure_threshold: int
    recovery_time: float
    half_open_requests: int


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens, how long it stays open, and how many probes half-open lets in."""

    failure_threshold: int
    recovery_time: float
    half_open_requests: int

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_requests < 1 or self.recovery_time < 0:
            raise ValueError(
                "circuit breaker needs failure_threshold >= 1, half_open_requests >= 1 and "
                f"recovery_time >= 0 (got {self.failure_threshold}, "
                f"{self.half_open_requests}, {self.recovery_time})"
            )

    @classmethod
    def from_config(cls, cfg: BreakerSettings) -> BreakerPolicy:
        return cls(cfg.failure_threshold, cfg.recovery_time, cfg.half_open_requests)


class Grant(Enum):
    """A breaker's answer to one call: no, yes, or yes as one of half-open's probes."""

    REFUSED = "refused"
    PASS = "pass"
    PROBE = "probe"


def grant(record: BreakerRecord, policy: BreakerPolicy, now: float) -> tuple[BreakerRecord, Grant]:
    """May a call go through? In half-open this reserves a probe slot.

    Half-open lets at most `half_open_requests` probes run at once. If probes stay out for a
    further `recovery_time` (lost, or stuck on a hung instance), a fresh probe is let in.
    """
    if record.state is CircuitState.CLOSED:
        return record, Grant.PASS
    if (
        record.state is CircuitState.HALF_OPEN
        and record.half_open_in_flight < policy.half_open_requests
    ):
        return replace(record, half_open_in_flight=record.half_open_in_flight + 1), Grant.PROBE
    if now - record.opened_at >= policy.recovery_time:
        probing = BreakerRecord(CircuitState.HALF_OPEN, record.consecutive_failures, now, 1)
        return probing, Grant.PROBE
    return record, Grant.REFUSED


def succeed(record: BreakerRecord) -> BreakerRecord:
    """A permitted call got an answer: clear the failure count, close a half-open breaker."""
    if record.state is CircuitState.OPEN:
        return record  # a late answer from before the breaker opened proves little
    return CLOSED_RECORD


def fail(record: BreakerRecord, policy: BreakerPolicy, now: float) -> BreakerRecord:
    """A permitted call failed in a way that counts against the instance."""
    if record.state is CircuitState.HALF_OPEN:
        return BreakerRecord(CircuitState.OPEN, record.consecutive_failures + 1, now)
    if record.state is CircuitState.OPEN:
        return record  # a call let in before the breaker opened; already handled
    failures = record.consecutive_failures + 1
    if failures >= policy.failure_threshold:
        return BreakerRecord(CircuitState.OPEN, failures, now)
    return BreakerRecord(CircuitState.CLOSED, failures)


def release_probe(record: BreakerRecord) -> BreakerRecord:
    """A half-open probe ended with no verdict: give its slot back."""
    if record.state is not CircuitState.HALF_OPEN or record.half_open_in_flight == 0:
        return record
    return replace(record, half_open_in_flight=record.half_open_in_flight - 1)


def state_at(record: BreakerRecord, policy: BreakerPolicy, now: float) -> CircuitState:
    """The state as callers see it: an open breaker past `recovery_time` reads as half-open."""
    if record.state is CircuitState.OPEN and now - record.opened_at >= policy.recovery_time:
        return CircuitState.HALF_OPEN
    return record.state


class BreakerStore(Protocol):
    """What a `CircuitBreaker` view needs from the shared state."""

    def breaker_record(self, key: str) -> BreakerRecord: ...

    def update_breaker(
        self, key: str, fn: Callable[[BreakerRecord], tuple[BreakerRecord, Any]]
    ) -> Any: ...


class CircuitBreaker:
    """The breaker of one instance, keyed `key` in the shared state: read it, or drive it."""

    __slots__ = ("_clock", "_listener", "_state", "key", "policy")

    def __init__(
        self,
        key: str,
        failure_threshold: int,
        recovery_time: float,
        half_open_requests: int,
        state: BreakerStore,
        clock: Clock,
        listener: TransitionListener | None = None,
    ) -> None:
        self.key = key
        self.policy = BreakerPolicy(failure_threshold, recovery_time, half_open_requests)
        self._state = state
        self._clock = clock
        self._listener = listener

    @classmethod
    def from_config(
        cls,
        key: str,
        cfg: BreakerSettings,
        state: BreakerStore,
        clock: Clock,
        listener: TransitionListener | None = None,
    ) -> CircuitBreaker:
        """Build from any object with `failure_threshold`, `recovery_time`, `half_open_requests`."""
        return cls(
            key,
            cfg.failure_threshold,
            cfg.recovery_time,
            cfg.half_open_requests,
            state,
            clock,
            listener,
        )

    @property
    def recovery_time(self) -> float:
        return self.policy.recovery_time

    @property
    def state(self) -> CircuitState:
        """The current state; an open breaker past `recovery_time` reads as half-open."""
        return state_at(self._state.breaker_record(self.key), self.policy, self._clock.now())

    def try_acquire(self) -> bool:
        """Ask permission for one call; in half-open this reserves a probe slot."""
        now = self._clock.now()
        return self._apply(lambda r: grant(r, self.policy, now)) is not Grant.REFUSED

    def on_success(self) -> None:
        self._apply(lambda r: (succeed(r), None))

    def on_failure(self) -> None:
        now = self._clock.now()
        self._apply(lambda r: (fail(r, self.policy, now), None))

    def release(self) -> None:
        """A permitted call ended with no verdict: give back its probe slot, if it held one."""
        self._apply(lambda r: (release_probe(r), None))

    def snapshot(self) -> dict[str, Any]:
        """State for stats: state, failures, probes in flight, open time and time to half-open."""
        record = self._state.breaker_record(self.key)
        now = self._clock.now()
        state = state_at(record, self.policy, now)
        until_half_open = 0.0
        if state is CircuitState.OPEN:
            until_half_open = max(record.opened_at + self.policy.recovery_time - now, 0.0)
        return {
            "state": state.value,
            "consecutive_failures": record.consecutive_failures,
            "half_open_in_flight": record.half_open_in_flight,
            "opened_at": None if record.state is CircuitState.CLOSED else record.opened_at,
            "seconds_until_half_open": until_half_open,
        }

    def _apply(self, fn: Callable[[BreakerRecord], tuple[BreakerRecord, Any]]) -> Any:
        """Apply a transition atomically; tell the listener when the state changed."""
        if self._listener is None:
            return self._state.update_breaker(self.key, fn)

        def traced(record: BreakerRecord) -> tuple[BreakerRecord, Any]:
            new, result = fn(record)
            return new, (result, record.state, new.state)

        result, old_state, new_state = self._state.update_breaker(self.key, traced)
        if old_state is not new_state:
            self._listener(self.key, old_state, new_state)
        return result
