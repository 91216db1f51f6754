"""Circuit breaker transitions, driven by a FakeClock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker, CircuitState
from infrastructure.llm.resilience.state import InMemoryState


def make(
    clock: FakeClock,
    state: InMemoryState | None = None,
    threshold: int = 3,
    recovery: float = 10.0,
    probes: int = 1,
    listener=None,
) -> CircuitBreaker:
    return CircuitBreaker(
        "g.echelon1.i0", threshold, recovery, probes, state or InMemoryState(), clock, listener
    )


def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        assert breaker.try_acquire()
        breaker.on_failure()


def test_opens_at_exactly_the_threshold() -> None:
    breaker = make(FakeClock())
    fail_times(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    fail_times(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.try_acquire()


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = make(FakeClock())
    fail_times(breaker, 2)
    assert breaker.try_acquire()
    breaker.on_success()
    assert breaker.snapshot()["consecutive_failures"] == 0
    fail_times(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


def test_open_rejects_until_recovery_time_then_lets_one_probe_through() -> None:
    clock = FakeClock(start=100.0)
    breaker = make(clock)
    fail_times(breaker, 3)
    clock.advance(9.99)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.try_acquire()
    clock.advance(0.01)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire()


def test_half_open_admits_exactly_half_open_requests_probes() -> None:
    clock = FakeClock()
    breaker = make(clock, probes=3)
    fail_times(breaker, 3)
    clock.advance(10.0)
    assert [breaker.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert breaker.snapshot()["half_open_in_flight"] == 3
    breaker.release()
    assert breaker.try_acquire()
    assert not breaker.try_acquire()


def test_probe_success_closes_and_resets() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_times(breaker, 3)
    clock.advance(10.0)
    assert breaker.try_acquire()
    breaker.on_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.snapshot() == {
        "state": "closed",
        "consecutive_failures": 0,
        "half_open_in_flight": 0,
        "opened_at": None,
        "seconds_until_half_open": 0.0,
    }
    fail_times(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


def test_probe_failure_reopens_with_a_new_opened_at() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_times(breaker, 3)
    assert breaker.snapshot()["opened_at"] == 0.0
    clock.advance(10.0)
    assert breaker.try_acquire()
    clock.advance(2.0)
    breaker.on_failure()
    snap = breaker.snapshot()
    assert snap["state"] == "open"
    assert snap["opened_at"] == 12.0
    assert snap["seconds_until_half_open"] == 10.0
    clock.advance(9.0)
    assert not breaker.try_acquire()
    clock.advance(1.0)
    assert breaker.try_acquire()


def test_release_in_closed_state_changes_nothing() -> None:
    breaker = make(FakeClock())
    fail_times(breaker, 2)
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.snapshot()["consecutive_failures"] == 2


def test_late_results_of_calls_let_in_before_opening_are_ignored() -> None:
    clock = FakeClock()
    breaker = make(clock)
    assert breaker.try_acquire()  # a slow call, still running when the breaker opens
    fail_times(breaker, 3)
    clock.advance(1.0)
    breaker.on_success()
    assert breaker.state is CircuitState.OPEN
    breaker.on_failure()
    assert breaker.snapshot()["opened_at"] == 0.0


def test_probes_stuck_longer_than_recovery_time_make_room_for_a_fresh_one() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_times(breaker, 3)
    clock.advance(10.0)
    assert breaker.try_acquire()
    clock.advance(5.0)
    assert not breaker.try_acquire()
    clock.advance(5.0)
    assert breaker.try_acquire()


def test_replicas_sharing_a_state_see_one_breaker() -> None:
    clock = FakeClock()
    state = InMemoryState()
    first, second = make(clock, state), make(clock, state)
    fail_times(first, 2)
    fail_times(second, 1)
    assert first.state is CircuitState.OPEN
    clock.advance(10.0)
    assert first.try_acquire()
    assert not second.try_acquire()


def test_listener_hears_each_transition_once() -> None:
    clock = FakeClock()
    heard: list[tuple[str, CircuitState, CircuitState]] = []
    breaker = make(clock, listener=lambda *event: heard.append(event))
    fail_times(breaker, 3)
    clock.advance(10.0)
    assert breaker.try_acquire()
    breaker.on_success()
    key = "g.echelon1.i0"
    assert heard == [
        (key, CircuitState.CLOSED, CircuitState.OPEN),
        (key, CircuitState.OPEN, CircuitState.HALF_OPEN),
        (key, CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_from_config_reads_the_three_fields() -> None:
    cfg = SimpleNamespace(failure_threshold=1, recovery_time=2.0, half_open_requests=2)
    clock = FakeClock()
    breaker = CircuitBreaker.from_config("k", cfg, InMemoryState(), clock)
    fail_times(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    clock.advance(2.0)
    assert breaker.try_acquire() and breaker.try_acquire()
    assert not breaker.try_acquire()


@pytest.mark.parametrize(
    ("threshold", "recovery", "probes"), [(0, 1.0, 1), (1, -1.0, 1), (1, 1.0, 0)]
)
def test_rejects_nonsense_settings(threshold: int, recovery: float, probes: int) -> None:
    with pytest.raises(ValueError, match="circuit breaker"):
        CircuitBreaker("k", threshold, recovery, probes, InMemoryState(), FakeClock())
