"""Per-echelon limits: in-flight calls (`concurrency_limit`) and calls a minute (`rpm_limit`).

Counts live in a `SharedState`, so limits hold across replicas. A waiting caller polls with
short sleeps that grow from 1 ms to 20 ms (never past its deadline): releases made by other
processes cannot signal it, and the injectable clock keeps waits testable without sleeping.
Waiters are not served in arrival order.
"""

from __future__ import annotations

from types import TracebackType

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import NoCapacityError
from infrastructure.llm.resilience.state import SharedState

_FIRST_POLL = 0.001
_MAX_POLL = 0.02


class Permit:
    """Permission for one call; `release()` gives its concurrency slot back exactly once."""

    __slots__ = ("_key", "_state")

    def __init__(self, state: SharedState | None, key: str) -> None:
        self._state = state
        self._key = key

    def release(self) -> None:
        """Give the slot back; later calls do nothing. Call it from the permit's one owner."""
        state = self._state
        if state is not None:
            self._state = None
            state.release(self._key)

    def __enter__(self) -> Permit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


NOOP_PERMIT = Permit(None, "")
"""Shared permit for calls that hold no concurrency slot; releasing it does nothing."""


class ConcurrencyLimit:
    """At most `limit` calls in flight under `key`."""

    __slots__ = ("_state", "key", "limit")

    def __init__(self, key: str, limit: int, state: SharedState) -> None:
        if limit < 1:
            raise ValueError(f"{key}: concurrency limit must be at least 1, got {limit}")
        self.key = key
        self.limit = limit
        self._state = state

    def try_acquire(self) -> Permit | None:
        """A permit holding one slot, or None when all `limit` slots are taken."""
        if self._state.try_acquire(self.key, self.limit):
            return Permit(self._state, self.key)
        return None

    @property
    def in_flight(self) -> int:
        return self._state.in_flight(self.key)


class RateLimit:
    """At most `rpm` calls a minute under `key`: a token bucket of `rpm` tokens, refilled
    continuously, so up to `rpm` calls may go back to back after an idle minute."""

    __slots__ = ("_clock", "_state", "key", "rpm")

    def __init__(self, key: str, rpm: int, state: SharedState, clock: Clock) -> None:
        if rpm < 1:
            raise ValueError(f"{key}: rpm limit must be at least 1, got {rpm}")
        self.key = key
        self.rpm = rpm
        self._state = state
        self._clock = clock

    def take(self) -> float:
        """Take a token: 0.0 if taken, else the seconds until one is available (none taken)."""
        return self._state.take_token(self.key, self.rpm, self._clock.now())


class EchelonLimiter:
    """Both limits of one echelon; either may be None (no limit).

    A rate token is taken only while a concurrency slot is held, and the slot is given back
    when no token is there, so waiting callers neither burn tokens nor hog slots.
    """

    __slots__ = (
        "_clock",
        "_concurrency",
        "_rate",
        "_unlimited",
        "concurrency_limit",
        "key_prefix",
        "rpm_limit",
    )

    def __init__(
        self,
        key_prefix: str,
        concurrency_limit: int | None,
        rpm_limit: int | None,
        state: SharedState,
        clock: Clock,
    ) -> None:
        self.key_prefix = key_prefix
        self.concurrency_limit = concurrency_limit
        self.rpm_limit = rpm_limit
        self._concurrency = (
            None
            if concurrency_limit is None
            else ConcurrencyLimit(key_prefix, concurrency_limit, state)
        )
        self._rate = None if rpm_limit is None else RateLimit(key_prefix, rpm_limit, state, clock)
        self._unlimited = self._concurrency is None and self._rate is None
        self._clock = clock

    def try_acquire(self) -> Permit | None:
        """A permit if there is room right now, else None (for spilling over to another target)."""
        if self._unlimited:
            return NOOP_PERMIT
        return self._attempt()[0]

    def acquire(self, deadline: float) -> Permit:
        """Wait for room until `deadline` (a `clock.now()` time); raise NoCapacityError after."""
        if self._unlimited:
            return NOOP_PERMIT
        poll = _FIRST_POLL
        while True:
            permit, token_wait = self._attempt()
            if permit is not None:
                return permit
            pause, poll = self._pause(deadline, token_wait, poll)
            self._clock.sleep(pause)

    async def aacquire(self, deadline: float) -> Permit:
        """`acquire` for async code: waits with `clock.asleep`."""
        if self._unlimited:
            return NOOP_PERMIT
        poll = _FIRST_POLL
        while True:
            permit, token_wait = self._attempt()
            if permit is not None:
                return permit
            pause, poll = self._pause(deadline, token_wait, poll)
            await self._clock.asleep(pause)

    def _attempt(self) -> tuple[Permit | None, float]:
        """One try: (permit, 0.0), or (None, seconds until a token) with 0.0 if slots are full."""
        permit = NOOP_PERMIT
        if self._concurrency is not None:
            slot = self._concurrency.try_acquire()
            if slot is None:
                return None, 0.0
            permit = slot
        if self._rate is not None:
            token_wait = self._rate.take()
            if token_wait > 0.0:
                permit.release()
                return None, token_wait
        return permit, 0.0

    def _pause(self, deadline: float, token_wait: float, poll: float) -> tuple[float, float]:
        """How long to sleep before the next try, and the next poll step; raises when the
        deadline leaves no time (or a token cannot arrive before it)."""
        left = deadline - self._clock.now()
        if token_wait > 0.0:
            if token_wait > left:
                raise NoCapacityError(
                    f"{self.key_prefix}: rpm limit {self.rpm_limit} reached; next call allowed "
                    f"in {token_wait:.2f}s, after the call's deadline"
                )
            return token_wait, poll
        if left <= 0.0:
            raise NoCapacityError(
                f"{self.key_prefix}: concurrency limit {self.concurrency_limit} reached and "
                "no call finished before the call's deadline"
            )
        return min(poll, left), min(poll * 2, _MAX_POLL)
