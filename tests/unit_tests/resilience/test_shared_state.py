"""InMemoryState: every SharedState operation, with explicit times."""

from __future__ import annotations

import bisect
import random
import threading

import pytest

from infrastructure.llm.resilience.admission import Gate, Refusal, Ticket
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.state import (
    CLOSED_RECORD,
    BreakerRecord,
    CircuitState,
    HealthRecord,
    InMemoryState,
    SharedState,
)

POLICY = BreakerPolicy(failure_threshold=1, recovery_time=1.0, half_open_requests=1)


@pytest.fixture
def state() -> SharedState:
    return InMemoryState()


def try_acquire(state: SharedState, key: str, limit: int) -> bool:
    """Admit one call under a concurrency limit of `limit` counted at `key`."""
    gate = Gate(f"cooldown:{key}", f"breaker:{key}", POLICY, Limits(key, concurrency_limit=limit))
    return isinstance(state.admit(gate, 0.0), Ticket)


def admit_rpm(state: SharedState, key: str, rpm: int, now: float) -> float:
    """Admit one call under an rpm limit: 0.0, or the seconds until the window has room."""
    gate = Gate(f"cooldown:{key}", f"breaker:{key}", POLICY, Limits(key, rpm_limit=rpm))
    answer = state.admit(gate, now)
    return 0.0 if isinstance(answer, Ticket) else answer.wait


def test_slots_stop_at_the_limit_and_come_back_on_release(state: SharedState) -> None:
    assert try_acquire(state, "e", 2)
    assert try_acquire(state, "e", 2)
    assert not try_acquire(state, "e", 2)
    assert state.in_flight("e") == 2
    state.release("e")
    assert state.in_flight("e") == 1
    assert try_acquire(state, "e", 2)


def test_release_never_goes_below_zero(state: SharedState) -> None:
    state.release("e")
    assert state.in_flight("e") == 0
    assert try_acquire(state, "e", 1)
    assert not try_acquire(state, "e", 1)


def test_slots_hold_under_threads(state: SharedState) -> None:
    granted: list[bool] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(100):
            ok = try_acquire(state, "e", 50)
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 50
    assert state.in_flight("e") == 50


def test_rpm_admits_a_burst_then_waits_until_the_oldest_call_leaves(state: SharedState) -> None:
    for _ in range(3):
        assert admit_rpm(state, "r", 3, now=0.0) == 0.0
    assert admit_rpm(state, "r", 3, now=0.0) == 60.0
    assert admit_rpm(state, "r", 3, now=0.25) == 59.75
    assert admit_rpm(state, "r", 3, now=60.0) == 0.0  # all three left at 60 s
    assert admit_rpm(state, "r", 3, now=70.0) == 0.0
    assert admit_rpm(state, "r", 3, now=80.0) == 0.0
    assert admit_rpm(state, "r", 3, now=80.0) == 40.0  # the call at 60 s leaves at 120 s


def test_rpm_never_admits_more_than_the_limit_in_any_minute(state: SharedState) -> None:
    minute = 60.0 - 1e-6  # times that waited exactly may land an ulp short of a minute
    rng = random.Random(12)
    now, admitted = 0.0, []
    while now < 600.0:
        wait = admit_rpm(state, "r", 10, now)
        if wait == 0.0:
            admitted.append(now)
        else:  # the wait is exactly until the oldest admission in the window leaves it
            in_window = [t for t in admitted if t > now - minute]
            assert len(in_window) == 10
            assert wait == pytest.approx(in_window[0] + 60.0 - now)
        now += rng.choice((0.0, rng.uniform(0.0, 5.0), wait))
    assert max(bisect.bisect_left(admitted, t + minute) - i for i, t in enumerate(admitted)) == 10
    assert len(admitted) == 10 * 10  # demand never let up: each of the ten minutes got its 10


def test_rpm_waits_are_met_exactly(state: SharedState) -> None:
    gate = Gate("cooldown:r", "breaker:r", POLICY, Limits("r", rpm_limit=1))
    assert isinstance(state.admit(gate, 0.3), Ticket)
    refused = state.admit(gate, 0.4)
    assert isinstance(refused, Refusal)
    now = 0.4 + refused.wait  # 60.3, whose `now - 60` rounds short of 0.3
    assert isinstance(state.admit(gate, now), Ticket)


def test_rpm_window_holds_under_threads(state: SharedState) -> None:
    granted: list[float] = []

    def grab() -> None:
        for _ in range(100):
            granted.append(admit_rpm(state, "r", 50, now=1.0))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(0.0) == 50


def test_rpm_window_ignores_a_clock_that_went_backwards(state: SharedState) -> None:
    assert admit_rpm(state, "r", 1, now=10.0) == 0.0
    assert admit_rpm(state, "r", 1, now=5.0) == pytest.approx(65.0)
    assert admit_rpm(state, "r", 1, now=70.0) == 0.0


def test_breaker_record_defaults_to_closed_and_updates_atomically(state: SharedState) -> None:
    assert state.breaker_record("b") is CLOSED_RECORD
    opened = BreakerRecord(CircuitState.OPEN, 3, 12.0, 0)
    assert state.update_breaker("b", lambda record: (opened, record.state)) is CircuitState.CLOSED
    assert state.breaker_record("b") == opened
    assert state.update_breaker("b", lambda record: (record, "same")) == "same"
    assert state.breaker_record("b") is opened


def test_health_turns_unhealthy_at_the_threshold_and_back_on_success(
    state: SharedState,
) -> None:
    assert state.health("i") is None
    assert state.record_health("i", True, 2, now=1.0) == HealthRecord(True, 0, 1.0)
    assert state.record_health("i", False, 2, now=2.0) == HealthRecord(True, 1, 1.0)
    assert state.record_health("i", False, 2, now=3.0) == HealthRecord(False, 2, 3.0)
    assert state.record_health("i", False, 2, now=4.0) == HealthRecord(False, 3, 3.0)
    assert state.record_health("i", True, 2, now=5.0) == HealthRecord(True, 0, 5.0)
    assert state.health("i") == HealthRecord(True, 0, 5.0)


def test_reset_by_prefix_and_whole(state: SharedState) -> None:
    try_acquire(state, "g1.e1", 5)
    try_acquire(state, "g2.e1", 5)
    admit_rpm(state, "g1.e1", 1, now=0.0)
    state.update_breaker("g1.e1.i0", lambda r: (BreakerRecord(CircuitState.OPEN, 1, 0.0), None))
    state.record_health("g1.e1.i0", False, 1, now=0.0)

    state.reset("g1.")
    assert state.in_flight("g1.e1") == 0
    assert state.in_flight("g2.e1") == 1
    assert admit_rpm(state, "g1.e1", 1, now=0.0) == 0.0
    assert state.breaker_record("g1.e1.i0") is CLOSED_RECORD
    assert state.health("g1.e1.i0") is None

    state.reset()
    assert state.in_flight("g2.e1") == 0
