"""Echelon limits: waiting within a deadline, spill-over, permits, rpm buckets (FakeClock)."""

from __future__ import annotations

import asyncio

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.errors import NoCapacityError
from infrastructure.llm.resilience.limits import (
    NOOP_PERMIT,
    ConcurrencyLimit,
    EchelonLimiter,
    Permit,
    RateLimit,
)
from infrastructure.llm.resilience.state import InMemoryState


def limiter(
    clock: FakeClock,
    concurrency: int | None = None,
    rpm: int | None = None,
    state: InMemoryState | None = None,
) -> EchelonLimiter:
    return EchelonLimiter("g.echelon1", concurrency, rpm, state or InMemoryState(), clock)


class ReleasingClock(FakeClock):
    """A FakeClock that releases `permit` once time reaches `at`, as a finishing call would."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at
        self.permit: Permit | None = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.permit is not None and self.now() >= self.at:
            self.permit.release()


def test_no_limits_costs_nothing_and_shares_one_permit() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    assert lim.acquire(deadline=0.0) is NOOP_PERMIT
    assert lim.try_acquire() is NOOP_PERMIT
    NOOP_PERMIT.release()
    assert clock.sleeps == []


async def test_no_limits_async() -> None:
    assert await limiter(FakeClock()).aacquire(deadline=0.0) is NOOP_PERMIT


def test_concurrency_full_waits_until_the_deadline_then_raises() -> None:
    clock = FakeClock()
    lim = limiter(clock, concurrency=1)
    held = lim.acquire(deadline=5.0)
    with pytest.raises(NoCapacityError, match=r"g\.echelon1: concurrency limit 1"):
        lim.acquire(deadline=5.0)
    assert clock.now() == pytest.approx(5.0)
    assert max(clock.sleeps) <= 0.02
    held.release()


def test_a_release_during_the_wait_lets_the_waiter_in() -> None:
    clock = ReleasingClock(at=0.5)
    lim = limiter(clock, concurrency=1)
    clock.permit = lim.acquire(deadline=10.0)
    permit = lim.acquire(deadline=10.0)
    assert 0.5 <= clock.now() < 0.6
    permit.release()


async def test_async_waiter_gets_the_slot_another_task_releases() -> None:
    clock = FakeClock()
    lim = limiter(clock, concurrency=1)
    held = await lim.aacquire(deadline=10.0)

    async def finish_later() -> None:
        await clock.asleep(0.3)
        held.release()

    finisher = asyncio.create_task(finish_later())
    permit = await lim.aacquire(deadline=10.0)
    await finisher
    assert clock.now() < 1.0
    permit.release()


async def test_async_concurrency_full_raises_at_the_deadline() -> None:
    clock = FakeClock()
    lim = limiter(clock, concurrency=1)
    await lim.aacquire(deadline=1.0)
    with pytest.raises(NoCapacityError):
        await lim.aacquire(deadline=1.0)
    assert clock.now() == pytest.approx(1.0)


def test_try_acquire_returns_none_when_full_for_spill_over() -> None:
    lim = limiter(FakeClock(), concurrency=2)
    first, second = lim.try_acquire(), lim.try_acquire()
    assert first is not None and second is not None
    assert lim.try_acquire() is None
    first.release()
    assert lim.try_acquire() is not None


def test_permit_release_is_idempotent_and_a_context_manager() -> None:
    state = InMemoryState()
    lim = limiter(FakeClock(), concurrency=2, state=state)
    other = lim.try_acquire()
    with lim.acquire(deadline=0.0) as permit:
        assert state.in_flight("g.echelon1") == 2
    permit.release()
    permit.release()
    assert state.in_flight("g.echelon1") == 1
    assert other is not None
    other.release()
    assert state.in_flight("g.echelon1") == 0


def test_rpm_waits_exactly_for_the_next_token() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=60)
    for _ in range(60):
        lim.acquire(deadline=0.0)
    lim.acquire(deadline=5.0)
    assert clock.sleeps == [pytest.approx(1.0)]
    assert lim.try_acquire() is None
    clock.advance(1.0)
    assert lim.try_acquire() is not None


def test_rpm_fails_fast_when_the_next_token_comes_after_the_deadline() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=1)
    lim.acquire(deadline=0.0)
    with pytest.raises(NoCapacityError, match="rpm limit 1"):
        lim.acquire(deadline=30.0)
    assert clock.now() == 0.0


async def test_async_rpm_waits_for_the_refill() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=30)
    for _ in range(30):
        await lim.aacquire(deadline=0.0)
    await lim.aacquire(deadline=10.0)
    assert clock.now() == pytest.approx(2.0)


def test_waiting_for_a_slot_burns_no_tokens_and_a_missing_token_frees_the_slot() -> None:
    clock = FakeClock()
    state = InMemoryState()
    lim = limiter(clock, concurrency=1, rpm=2, state=state)
    held = lim.acquire(deadline=0.0)
    with pytest.raises(NoCapacityError):
        lim.acquire(deadline=1.0)  # polls many times while the slot is taken
    held.release()
    assert lim.try_acquire() is not None  # the second of two tokens is still there
    state.release("g.echelon1")
    assert lim.try_acquire() is None  # no token left ...
    assert state.in_flight("g.echelon1") == 0  # ... and the slot was given back


def test_limits_hold_across_limiters_sharing_a_state() -> None:
    clock, state = FakeClock(), InMemoryState()
    replica_a = limiter(clock, concurrency=1, state=state)
    replica_b = limiter(clock, concurrency=1, state=state)
    assert replica_a.try_acquire() is not None
    assert replica_b.try_acquire() is None


def test_single_limits_and_their_validation() -> None:
    state, clock = InMemoryState(), FakeClock()
    slots = ConcurrencyLimit("c", 1, state)
    permit = slots.try_acquire()
    assert permit is not None and slots.in_flight == 1
    assert slots.try_acquire() is None
    rate = RateLimit("r", 1, state, clock)
    assert rate.take() == 0.0
    assert rate.take() == pytest.approx(60.0)
    with pytest.raises(ValueError, match="concurrency limit"):
        ConcurrencyLimit("c", 0, state)
    with pytest.raises(ValueError, match="rpm limit"):
        RateLimit("r", 0, state, clock)
