"""Per-instance circuit breaker: stop sending calls to an instance that keeps failing.

closed --(failure_threshold consecutive failures)--> open --(recovery_time)--> half_open
half_open --(a probe succeeds)--> closed;  half_open --(a probe fails)--> open

What the router reports (errors classified by `error_classification.classify`):
  * `on_success()`: the instance answered, including a FATAL error such as a 400: the request
    was bad, the instance is alive;
  * `on_failure()`: a RETRYABLE or MISCONFIGURED error raised by the instance's call;
  * `release()`: the call ended with no verdict on the instance (cancelled, the caller's own
    deadline passed, a hedged twin won).

The record lives in a `SharedState`, so every replica sees the same breaker. The common path
(closed, no failures pending) only reads the record and takes no lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from infrastructure.llm.clock import Clock
from infrastructure.llm.resilience.state import (
    CLOSED_RECORD,
    BreakerRecord,
    CircuitState,
    SharedState,
)

__all__ = ["BreakerSettings", "CircuitBreaker", "CircuitState", "TransitionListener"]

TransitionListener = Callable[[str, CircuitState, CircuitState], None]
"""Called as `listener(key, old_state, new_state)` after this process changes the state."""


class BreakerSettings(Protocol):
    """The fields `from_config` reads (the circuit_breaker section of a fallback config)."""

    failure_threshold: int
    recovery_time: float
    half_open_requests: int


class CircuitBreaker:
    """Circuit breaker for one instance, keyed `key` in the shared state.

    Half-open lets at most `half_open_requests` probes run at once; the first probe to
    succeed closes the breaker and the first to fail re-opens it. If probes stay in flight
    for a further `recovery_time` (lost, or stuck on a hung instance), a fresh probe is let in.
    """

    __slots__ = (
        "_clock",
        "_half_open_requests",
        "_listener",
        "_recovery_time",
        "_state",
        "_threshold",
        "key",
    )

    def __init__(
        self,
        key: str,
        failure_threshold: int,
        recovery_time: float,
        half_open_requests: int,
        state: SharedState,
        clock: Clock,
        listener: TransitionListener | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_requests < 1 or recovery_time < 0:
            raise ValueError(
                "circuit breaker needs failure_threshold >= 1, half_open_requests >= 1 and "
                f"recovery_time >= 0 (got {failure_threshold}, {half_open_requests}, "
                f"{recovery_time})"
            )
        self.key = key
        self._threshold = failure_threshold
        self._recovery_time = recovery_time
        self._half_open_requests = half_open_requests
        self._state = state
        self._clock = clock
        self._listener = listener

    @classmethod
    def from_config(
        cls,
        key: str,
        cfg: BreakerSettings,
        state: SharedState,
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
        return self._recovery_time

    @property
    def state(self) -> CircuitState:
        """The current state; an open breaker past `recovery_time` reads as half-open."""
        record = self._state.breaker_record(self.key)
        if (
            record.state is CircuitState.OPEN
            and self._clock.now() - record.opened_at >= self._recovery_time
        ):
            return CircuitState.HALF_OPEN
        return record.state

    def try_acquire(self) -> bool:
        """Ask permission for one call; in half-open this reserves a probe slot."""
        record = self._state.breaker_record(self.key)
        if record.state is CircuitState.CLOSED:
            return True
        now = self._clock.now()
        if record.state is CircuitState.OPEN and now - record.opened_at < self._recovery_time:
            return False
        return self._update(lambda r: self._acquire(r, now))

    def on_success(self) -> None:
        """A permitted call got an answer: clear the failure count, close a half-open breaker."""
        record = self._state.breaker_record(self.key)
        if record.state is CircuitState.CLOSED and record.consecutive_failures == 0:
            return
        self._update(_succeed)

    def on_failure(self) -> None:
        """A permitted call failed in a way that counts against the instance."""
        now = self._clock.now()
        self._update(lambda r: self._fail(r, now))

    def release(self) -> None:
        """A permitted call ended with no verdict: give back its probe slot, if it held one."""
        if self._state.breaker_record(self.key).state is CircuitState.HALF_OPEN:
            self._update(_release_probe)

    def snapshot(self) -> dict[str, Any]:
        """State for stats: state, failures, probes in flight, open time and time to half-open."""
        record = self._state.breaker_record(self.key)
        now = self._clock.now()
        state = record.state
        until_half_open = 0.0
        if state is CircuitState.OPEN:
            until_half_open = max(record.opened_at + self._recovery_time - now, 0.0)
            if until_half_open == 0.0:
                state = CircuitState.HALF_OPEN
        return {
            "state": state.value,
            "consecutive_failures": record.consecutive_failures,
            "half_open_in_flight": record.half_open_in_flight,
            "opened_at": None if record.state is CircuitState.CLOSED else record.opened_at,
            "seconds_until_half_open": until_half_open,
        }

    def _update(self, fn: Callable[[BreakerRecord], tuple[BreakerRecord, bool]]) -> bool:
        """Apply a transition atomically; tell the listener when the state changed."""
        if self._listener is None:
            return self._state.update_breaker(self.key, fn)

        def traced(
            record: BreakerRecord,
        ) -> tuple[BreakerRecord, tuple[bool, CircuitState, CircuitState]]:
            new, result = fn(record)
            return new, (result, record.state, new.state)

        result, old_state, new_state = self._state.update_breaker(self.key, traced)
        if old_state is not new_state:
            self._listener(self.key, old_state, new_state)
        return result

    def _acquire(self, record: BreakerRecord, now: float) -> tuple[BreakerRecord, bool]:
        if record.state is CircuitState.CLOSED:
            return record, True
        if (
            record.state is CircuitState.HALF_OPEN
            and record.half_open_in_flight < self._half_open_requests
        ):
            return replace(record, half_open_in_flight=record.half_open_in_flight + 1), True
        if now - record.opened_at >= self._recovery_time:
            # Open long enough, or every probe outstanding too long: start probing afresh.
            probing = BreakerRecord(CircuitState.HALF_OPEN, record.consecutive_failures, now, 1)
            return probing, True
        return record, False

    def _fail(self, record: BreakerRecord, now: float) -> tuple[BreakerRecord, bool]:
        if record.state is CircuitState.HALF_OPEN:
            return BreakerRecord(CircuitState.OPEN, record.consecutive_failures + 1, now), True
        if record.state is CircuitState.OPEN:
            return record, False  # a call let in before the breaker opened; already handled
        failures = record.consecutive_failures + 1
        if failures >= self._threshold:
            return BreakerRecord(CircuitState.OPEN, failures, now), True
        return BreakerRecord(CircuitState.CLOSED, failures), True


def _succeed(record: BreakerRecord) -> tuple[BreakerRecord, bool]:
    if record.state is CircuitState.OPEN:
        return record, False  # a late answer from before the breaker opened proves little
    return CLOSED_RECORD, True


def _release_probe(record: BreakerRecord) -> tuple[BreakerRecord, bool]:
    if record.state is not CircuitState.HALF_OPEN or record.half_open_in_flight == 0:
        return record, False
    return replace(record, half_open_in_flight=record.half_open_in_flight - 1), True
