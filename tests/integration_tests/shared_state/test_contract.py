"""The `SharedState` contract, run against InMemoryState and RedisState alike.

Two replicas `a` and `b` of one application: for memory both are the one InMemoryState; for
Redis two RedisStates on the same server and prefix. Time moves with `advance`: the fake clock
for memory; for Redis, whose scripts read the server's clock, also for real (windows are kept
to tenths of a second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.resilience.admission import Gate, Reason, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy, CircuitBreaker
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.state import (
    CLOSED_RECORD,
    CircuitState,
    InMemoryState,
    SharedState,
)

RECOVERY = 0.2
# How far a Redis wait may fall short of the ideal one: the server's clock runs on meanwhile.
SLACK = 0.05


@dataclass
class Replicas:
    """Two replicas of one application, their clock, and how time passes for them."""

    a: SharedState
    b: SharedState
    clock: FakeClock
    real_time: bool

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.real_time:
            time.sleep(seconds)

    def flush(self) -> None:
        """Send slots given back (a RedisState sends them in the background)."""
        for state in (self.a, self.b):
            flush = getattr(state, "flush", None)
            if flush is not None:
                flush()

    def admit(self, state: SharedState, gate: Gate) -> Ticket | Refusal:
        return state.admit(gate, self.clock.now())

    def settle(
        self, state: SharedState, gate: Gate, ticket: Ticket, verdict: Verdict, cooldown: float = 0
    ) -> tuple[CircuitState, CircuitState] | None:
        return state.settle(gate, ticket, verdict, self.clock.now(), cooldown)


@pytest.fixture(params=["memory", "redis"])
def replicas(request: pytest.FixtureRequest, fake_clock: FakeClock) -> Replicas:
    if request.param == "memory":
        state = InMemoryState()
        return Replicas(state, state, fake_clock, real_time=False)
    make_state = request.getfixturevalue("make_state")
    return Replicas(make_state(), make_state(), fake_clock, real_time=True)


def gate(
    name: str = "i",
    threshold: int = 2,
    probes: int = 1,
    concurrency: int | None = None,
    rpm: int | None = None,
) -> Gate:
    limits = None
    if concurrency is not None or rpm is not None:
        limits = Limits(f"limits:{name}", concurrency, rpm)
    policy = BreakerPolicy(threshold, RECOVERY, probes)
    return Gate(f"instance:{name}", f"breaker:{name}", policy, limits)


def ticket(answer: Ticket | Refusal) -> Ticket:
    assert type(answer) is Ticket, f"refused: {answer.reason}"  # type: ignore[union-attr]
    return answer  # type: ignore[return-value]


def refusal(answer: Ticket | Refusal, reason: Reason) -> Refusal:
    assert type(answer) is Refusal, "admitted"
    assert answer.reason is reason
    return answer


def open_breaker(r: Replicas, g: Gate) -> None:
    for _ in range(g.policy.failure_threshold):
        r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.FAILED)


# -- limits ---------------------------------------------------------------------------------


def test_concurrency_holds_across_replicas_and_slots_come_back(replicas: Replicas) -> None:
    r = replicas
    g = gate(concurrency=2)
    first, second = ticket(r.admit(r.a, g)), ticket(r.admit(r.b, g))
    assert first.slot and second.slot
    assert refusal(r.admit(r.a, g), Reason.FULL).wait == 0.0
    assert refusal(r.admit(r.b, g), Reason.FULL).wait == 0.0
    assert r.a.in_flight("limits:i") == 2
    assert r.settle(r.a, g, first, Verdict.ANSWERED) is None
    r.flush()
    assert r.b.in_flight("limits:i") == 1
    assert ticket(r.admit(r.b, g)).slot


def test_a_stream_keeps_its_slot_until_it_ends(replicas: Replicas) -> None:
    r = replicas
    g = gate(concurrency=1)
    stream = ticket(r.admit(r.a, g))
    r.settle(r.a, g, stream, Verdict.STREAM_OPENED)
    r.flush()
    refusal(r.admit(r.b, g), Reason.FULL)
    r.settle(r.a, g, stream, Verdict.STREAM_ENDED)
    r.flush()
    assert ticket(r.admit(r.b, g)).slot


def test_an_abandoned_call_gives_its_slot_back_and_leaves_the_breaker(replicas: Replicas) -> None:
    r = replicas
    g = gate(concurrency=1, threshold=1)
    r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.ABANDONED)
    r.flush()
    assert r.b.in_flight("limits:i") == 0
    assert r.b.breaker_record("breaker:i") is CLOSED_RECORD


def test_release_gives_back_one_slot(replicas: Replicas) -> None:
    r = replicas
    g = gate(concurrency=2)
    ticket(r.admit(r.a, g))
    ticket(r.admit(r.a, g))
    r.a.release("limits:i")
    r.flush()
    assert r.b.in_flight("limits:i") == 1


def test_rpm_admits_a_burst_then_waits_for_the_oldest_to_leave_the_window(
    replicas: Replicas,
) -> None:
    r = replicas
    g = gate(rpm=6)
    ticket(r.admit(r.a, g))  # the oldest: it leaves the window 60 s from now
    r.advance(0.2)
    for index in range(5):
        ticket(r.admit(r.a if index % 2 else r.b, g))
    for state in (r.a, r.b):  # six in the window, from either replica: full for both
        wait = refusal(r.admit(state, g), Reason.FULL).wait
        assert 59.8 - SLACK <= wait <= 59.8
    r.advance(0.1)  # the window slides: the wait shrinks as time passes
    wait = refusal(r.admit(r.a, g), Reason.FULL).wait
    assert 59.7 - SLACK <= wait <= 59.7


def test_a_missing_slot_uses_no_rate_and_a_full_window_takes_no_slot(replicas: Replicas) -> None:
    r = replicas
    g = gate(concurrency=1, rpm=2)
    first = ticket(r.admit(r.a, g))
    assert refusal(r.admit(r.b, g), Reason.FULL).wait == 0.0  # no slot: not counted
    r.settle(r.a, g, first, Verdict.ANSWERED)
    r.flush()
    r.settle(r.b, g, ticket(r.admit(r.b, g)), Verdict.ANSWERED)  # the second of two a minute
    r.flush()
    wait = refusal(r.admit(r.a, g), Reason.FULL).wait  # no room: the slot stays free
    assert 60.0 - SLACK <= wait <= 60.0
    assert r.b.in_flight("limits:i") == 0


# -- breakers -------------------------------------------------------------------------------


def test_breaker_opens_for_every_replica_after_the_threshold(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=2)
    assert r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.FAILED) is None
    transition = r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.FAILED)
    assert transition == (CircuitState.CLOSED, CircuitState.OPEN)
    wait = refusal(r.admit(r.b, g), Reason.OPEN).wait
    assert RECOVERY - SLACK <= wait <= RECOVERY
    record = r.b.breaker_record("breaker:i")
    assert (record.state, record.consecutive_failures) == (CircuitState.OPEN, 2)


def test_a_success_clears_counted_failures(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=3)
    r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.FAILED)
    assert r.b.breaker_record("breaker:i").consecutive_failures == 1
    assert r.settle(r.b, g, ticket(r.admit(r.b, g)), Verdict.ANSWERED) is None
    assert r.a.breaker_record("breaker:i") is CLOSED_RECORD


def test_half_open_probes_are_counted_across_replicas(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1, probes=1)
    open_breaker(r, g)
    r.advance(RECOVERY)
    probe = ticket(r.admit(r.a, g))
    assert probe.probe
    assert refusal(r.admit(r.b, g), Reason.OPEN).wait == 0.0  # the one probe is out
    assert r.b.breaker_record("breaker:i").half_open_in_flight == 1
    transition = r.settle(r.a, g, probe, Verdict.ANSWERED)
    assert transition == (CircuitState.HALF_OPEN, CircuitState.CLOSED)
    assert not ticket(r.admit(r.b, g)).probe


def test_two_probes_allowed_means_two_across_replicas(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1, probes=2)
    open_breaker(r, g)
    r.advance(RECOVERY)
    assert ticket(r.admit(r.a, g)).probe
    assert ticket(r.admit(r.b, g)).probe
    refusal(r.admit(r.a, g), Reason.OPEN)


def test_a_failed_probe_opens_the_breaker_again(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1)
    open_breaker(r, g)
    r.advance(RECOVERY)
    probe = ticket(r.admit(r.b, g))
    transition = r.settle(r.b, g, probe, Verdict.FAILED)
    assert transition == (CircuitState.HALF_OPEN, CircuitState.OPEN)
    assert refusal(r.admit(r.a, g), Reason.OPEN).wait > RECOVERY - SLACK


def test_an_abandoned_probe_lets_another_replica_probe(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1)
    open_breaker(r, g)
    r.advance(RECOVERY)
    probe = ticket(r.admit(r.a, g))
    assert r.settle(r.a, g, probe, Verdict.ABANDONED) is None
    assert ticket(r.admit(r.b, g)).probe


def test_probes_out_for_another_recovery_time_let_a_fresh_probe_in(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1)
    open_breaker(r, g)
    r.advance(RECOVERY)
    ticket(r.admit(r.a, g))  # lost: never settled
    refusal(r.admit(r.b, g), Reason.OPEN)
    r.advance(RECOVERY)
    assert ticket(r.admit(r.b, g)).probe


def test_outrun_counts_as_a_failure_without_cooling_down(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1)
    transition = r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.OUTRUN, cooldown=5.0)
    assert transition == (CircuitState.CLOSED, CircuitState.OPEN)
    refusal(r.admit(r.b, g), Reason.OPEN)


def test_a_breaker_view_reads_open_times_in_the_callers_clock(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=1)
    breaker = CircuitBreaker("breaker:i", 1, RECOVERY, 1, r.b, r.clock)
    open_breaker(r, g)
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "open"
    assert RECOVERY - SLACK <= snapshot["seconds_until_half_open"] <= RECOVERY
    assert abs(snapshot["opened_at"] - r.clock.now()) < SLACK


def test_a_breaker_view_drives_the_shared_breaker(replicas: Replicas) -> None:
    r = replicas
    breaker = CircuitBreaker("breaker:i", 2, RECOVERY, 1, r.a, r.clock)
    breaker.on_failure()
    breaker.on_failure()
    assert breaker.state is CircuitState.OPEN
    refusal(r.admit(r.b, gate(threshold=2)), Reason.OPEN)
    r.advance(RECOVERY)
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    breaker.on_success()
    assert r.b.breaker_record("breaker:i") is CLOSED_RECORD


# -- cool-downs -----------------------------------------------------------------------------


def test_retry_after_cools_the_instance_down_for_every_replica(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=5)
    first, second = ticket(r.admit(r.a, g)), ticket(r.admit(r.b, g))
    r.settle(r.a, g, first, Verdict.FAILED, cooldown=0.3)
    r.settle(r.b, g, second, Verdict.FAILED, cooldown=0.1)  # never shortens a cool-down
    wait = refusal(r.admit(r.b, g), Reason.COOLING_DOWN).wait
    assert 0.3 - SLACK <= wait <= 0.3
    r.advance(wait)
    ticket(r.admit(r.b, g))


def test_a_misconfigured_instance_cools_down_at_least_recovery_time(replicas: Replicas) -> None:
    r = replicas
    g = gate(threshold=5)
    r.settle(r.a, g, ticket(r.admit(r.a, g)), Verdict.MISCONFIGURED)
    wait = refusal(r.admit(r.b, g), Reason.COOLING_DOWN).wait
    assert RECOVERY - SLACK <= wait <= RECOVERY


# -- health ---------------------------------------------------------------------------------


def test_health_records_are_shared_with_times_in_the_callers_clock(replicas: Replicas) -> None:
    r = replicas
    assert r.a.health("pool:p:i") is None
    r.advance(0.05)
    first = r.a.record_health("pool:p:i", False, 2, r.clock.now())
    assert (first.healthy, first.consecutive_failures) == (True, 1)
    assert abs(first.since - r.clock.now()) < SLACK
    r.advance(0.05)
    down = r.b.record_health("pool:p:i", False, 2, r.clock.now())
    assert (down.healthy, down.consecutive_failures) == (False, 2)
    assert abs(down.since - r.clock.now()) < SLACK
    seen = r.a.health("pool:p:i")
    assert seen is not None and not seen.healthy
    assert abs(seen.since - down.since) < SLACK
    up = r.a.record_health("pool:p:i", True, 2, r.clock.now())
    assert (up.healthy, up.consecutive_failures) == (True, 0)


def test_claim_probe_lets_one_replica_probe_an_instance_per_interval(replicas: Replicas) -> None:
    r = replicas
    assert r.a.claim_probe("pool:p:i", 0.2, r.clock.now())
    shared = r.a is not r.b
    assert r.b.claim_probe("pool:p:i", 0.2, r.clock.now()) is not shared
    r.advance(0.25)  # past the interval (Redis counts whole milliseconds)
    assert r.b.claim_probe("pool:p:i", 0.2, r.clock.now())


# -- reset ----------------------------------------------------------------------------------


def test_reset_forgets_only_records_under_the_prefix(replicas: Replicas) -> None:
    r = replicas
    one, two = gate("one", threshold=1), gate("two", threshold=1)
    open_breaker(r, one)
    open_breaker(r, two)
    r.a.record_health("instance:one", False, 1, r.clock.now())
    r.a.reset("breaker:one")
    assert r.b.breaker_record("breaker:one") is CLOSED_RECORD
    assert r.b.breaker_record("breaker:two").state is CircuitState.OPEN
    assert r.b.health("instance:one") is not None
    r.a.reset()
    assert r.b.breaker_record("breaker:two") is CLOSED_RECORD
    assert r.b.health("instance:one") is None


def test_status_says_where_the_records_live(replicas: Replicas) -> None:
    r = replicas
    assert r.a.status() == ("memory" if r.a is r.b else "shared")
