"""Echelon limits: waiting within a deadline, spill-over, permits, rpm windows (FakeClock).

Limits are admitted the way a routed call admits them: the routing engine's `acquire`, run
by the sync or async driver, over a one-instance target whose echelon has the limits.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config import EchelonConfig
from infrastructure.llm.errors import NoCapacityError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.member import Echelon, Member
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.resilience.admission import FREE_TICKET, Gate, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy, CircuitBreaker
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import adrive, drive
from infrastructure.llm.routing.engine import acquire


class Permit:
    """An admitted ticket; `release()` gives its slot back exactly once."""

    def __init__(self, limiter: Limiter, ticket: Ticket) -> None:
        self.limiter: Limiter | None = limiter
        self.ticket = ticket

    def release(self) -> None:
        limiter, self.limiter = self.limiter, None
        if limiter is not None:
            limiter.state.settle(
                limiter.member.gate, self.ticket, Verdict.STREAM_ENDED, limiter.clock.now()
            )

    def __enter__(self) -> Permit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Limiter:
    """The limits of echelon `g.echelon1`, admitted as a routed call admits them."""

    def __init__(self, state: InMemoryState, clock: FakeClock, limits: Limits | None) -> None:
        self.state = state
        self.clock = clock
        policy = BreakerPolicy(1, 1.0, 1)
        instance = Instance("m#0", "m", "mock", "echo", None, MockChatModel())
        echelon = Echelon("g", 1, EchelonConfig(models=["m"]), {}, limits)
        gate = Gate("cooldown:m#0", "breaker:g:m#0", policy, limits)
        breaker = CircuitBreaker("breaker:g:m#0", 1, 1.0, 1, state, clock)
        self.member = Member(0, instance, echelon, gate, breaker)

    def _target(self, deadline: float) -> tuple[Target, CallRecord]:
        """A target whose attempts may wait until `deadline` (a clock time) for room."""
        wait = max(deadline - self.clock.now(), 1e-9)
        member = self.member
        config = EchelonConfig(models=["m"], timeout=wait)
        echelon = Echelon("g", 1, config, {}, member.echelon.limits)
        members = [Member(0, member.instance, echelon, member.gate, member.breaker)]
        target = Target(echelon, members, self.clock)
        return target, CallRecord(Deadline(self.clock, 3600.0))

    def acquire(self, deadline: float) -> Permit:
        target, call = self._target(deadline)
        _, ticket = drive(acquire(target, call, set(), None, False), self.state, self.clock)
        return Permit(self, ticket)

    async def aacquire(self, deadline: float) -> Permit:
        target, call = self._target(deadline)
        steps = acquire(target, call, set(), None, False)
        _, ticket = await adrive(steps, self.state, self.clock)
        return Permit(self, ticket)

    def try_acquire(self) -> Permit | None:
        answer = self.state.admit(self.member.gate, self.clock.now())
        return Permit(self, answer) if isinstance(answer, Ticket) else None


def limiter(
    clock: FakeClock,
    concurrency: int | None = None,
    rpm: int | None = None,
    state: InMemoryState | None = None,
) -> Limiter:
    limits = None if concurrency is None and rpm is None else Limits("g.echelon1", concurrency, rpm)
    return Limiter(state or InMemoryState(), clock, limits)


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
    assert lim.acquire(deadline=0.0).ticket is FREE_TICKET
    free = lim.try_acquire()
    assert free is not None and free.ticket is FREE_TICKET
    free.release()
    assert clock.sleeps == []


async def test_no_limits_async() -> None:
    assert (await limiter(FakeClock()).aacquire(deadline=0.0)).ticket is FREE_TICKET


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


def test_rpm_waits_exactly_until_the_oldest_call_leaves_the_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=3)
    for _ in range(3):
        lim.acquire(deadline=clock.now())
        clock.advance(10.0)
    lim.acquire(deadline=clock.now() + 45.0)  # at 30 s: the call at 0 s leaves at 60 s
    assert clock.sleeps[-1] == pytest.approx(30.0) and clock.now() == pytest.approx(60.0)
    assert lim.try_acquire() is None  # the calls at 10 and 20 s are still in the window
    clock.advance(10.0)
    assert lim.try_acquire() is not None


def test_rpm_lets_the_limit_through_in_any_minute_and_no_fewer() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=5)
    admitted, waited = [], []
    for step in range(40):
        sleeps = len(clock.sleeps)
        lim.acquire(deadline=clock.now() + 60.0)
        admitted.append(clock.now())
        waited.append(len(clock.sleeps) > sleeps)
        clock.advance(step % 4 * 2.5)  # bursts, then pauses
    for i in range(5, 40):  # a call comes a minute after the fifth before it at the soonest ...
        assert admitted[i] >= admitted[i - 5] + 60.0 - 1e-6
        if waited[i]:  # ... and one that had to wait came exactly then
            assert admitted[i] == pytest.approx(admitted[i - 5] + 60.0)
    assert sum(waited) > 10


def test_rpm_fails_fast_when_the_window_has_no_room_before_the_deadline() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=1)
    lim.acquire(deadline=0.0)
    with pytest.raises(NoCapacityError, match="rpm limit 1"):
        lim.acquire(deadline=30.0)
    assert clock.now() == 0.0


async def test_async_rpm_waits_for_the_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=30)
    for _ in range(30):
        await lim.aacquire(deadline=0.0)
    await lim.aacquire(deadline=90.0)
    assert clock.now() == pytest.approx(60.0)


def test_waiting_for_a_slot_uses_no_rate_and_a_full_window_takes_no_slot() -> None:
    clock = FakeClock()
    state = InMemoryState()
    lim = limiter(clock, concurrency=1, rpm=2, state=state)
    held = lim.acquire(deadline=0.0)
    with pytest.raises(NoCapacityError):
        lim.acquire(deadline=1.0)  # polls many times while the slot is taken
    held.release()
    assert lim.try_acquire() is not None  # the second of two calls a minute is still there
    state.release("g.echelon1")
    assert lim.try_acquire() is None  # no room in the window ...
    assert state.in_flight("g.echelon1") == 0  # ... and the slot was given back


def test_limits_hold_across_limiters_sharing_a_state() -> None:
    clock, state = FakeClock(), InMemoryState()
    replica_a = limiter(clock, concurrency=1, state=state)
    replica_b = limiter(clock, concurrency=1, state=state)
    assert replica_a.try_acquire() is not None
    assert replica_b.try_acquire() is None


def test_single_limits_and_their_validation() -> None:
    clock = FakeClock()
    slots = limiter(clock, concurrency=1)
    permit = slots.try_acquire()
    assert permit is not None and slots.state.in_flight("g.echelon1") == 1
    assert slots.try_acquire() is None
    rate = limiter(clock, rpm=1)
    assert rate.try_acquire() is not None
    answer = rate.state.admit(rate.member.gate, clock.now())
    assert isinstance(answer, Refusal) and answer.wait == pytest.approx(60.0)
    with pytest.raises(ValueError, match="concurrency limit"):
        Limits("c", concurrency_limit=0)
    with pytest.raises(ValueError, match="rpm limit"):
        Limits("r", rpm_limit=0)
