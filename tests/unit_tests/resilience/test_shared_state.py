"""InMemoryState: every SharedState operation, with explicit times."""

from __future__ import annotations

import threading

import pytest

from infrastructure.llm.resilience.admission import Gate, Ticket
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


def take_token(state: SharedState, key: str, rpm: int, now: float) -> float:
    """Admit one call under an rpm limit: 0.0, or the seconds until a token is there."""
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


def test_bucket_starts_full_then_refills_continuously(state: SharedState) -> None:
    for _ in range(60):
        assert take_token(state, "r", 60, now=0.0) == 0.0
    assert take_token(state, "r", 60, now=0.0) == pytest.approx(1.0)
    assert take_token(state, "r", 60, now=0.25) == pytest.approx(0.75)
    assert take_token(state, "r", 60, now=1.0) == 0.0
    assert take_token(state, "r", 60, now=1.0) == pytest.approx(1.0)


def test_bucket_never_holds_more_than_a_minute_of_tokens(state: SharedState) -> None:
    assert take_token(state, "r", 2, now=0.0) == 0.0
    assert take_token(state, "r", 2, now=0.0) == 0.0
    assert take_token(state, "r", 2, now=1000.0) == 0.0
    assert take_token(state, "r", 2, now=1000.0) == 0.0
    assert take_token(state, "r", 2, now=1000.0) == pytest.approx(30.0)


def test_bucket_ignores_a_clock_that_went_backwards(state: SharedState) -> None:
    assert take_token(state, "r", 1, now=10.0) == 0.0
    assert take_token(state, "r", 1, now=5.0) == pytest.approx(60.0)
    assert take_token(state, "r", 1, now=70.0) == 0.0


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
    take_token(state, "g1.e1", 1, now=0.0)
    state.update_breaker("g1.e1.i0", lambda r: (BreakerRecord(CircuitState.OPEN, 1, 0.0), None))
    state.record_health("g1.e1.i0", False, 1, now=0.0)

    state.reset("g1.")
    assert state.in_flight("g1.e1") == 0
    assert state.in_flight("g2.e1") == 1
    assert take_token(state, "g1.e1", 1, now=0.0) == 0.0
    assert state.breaker_record("g1.e1.i0") is CLOSED_RECORD
    assert state.health("g1.e1.i0") is None

    state.reset()
    assert state.in_flight("g2.e1") == 0
