"""What RedisState adds to the contract: one round trip a call, slots as leases that live as
long as their call and come back promptly, the rpm window as a log that slides and expires,
operator views, and keys kept under the prefix."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.resilience.admission import Gate, Reason, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import CLOSED_RECORD

from .conftest import MakeState, RedisServer

POLICY = BreakerPolicy(failure_threshold=1, recovery_time=30.0, half_open_requests=1)
# How far a wait may fall short of the ideal one: the server's clock runs on meanwhile.
SLACK = 0.05


def gate(name: str = "i", concurrency: int | None = None, rpm: int | None = None) -> Gate:
    limits = Limits(f"limits:{name}", concurrency, rpm) if concurrency or rpm else None
    return Gate(f"instance:{name}", f"breaker:{name}", POLICY, limits)


def ticket(answer: Ticket | Refusal) -> Ticket:
    assert type(answer) is Ticket, f"refused: {answer.reason}"  # type: ignore[union-attr]
    return answer  # type: ignore[return-value]


def refusal(answer: Ticket | Refusal, reason: Reason) -> Refusal:
    assert type(answer) is Refusal, "admitted"
    assert answer.reason is reason
    return answer


# Commands the admit script runs inside the server, and those a new connection sends.
INSIDE_SCRIPTS = {"time", "get", "hmget", "zrem", "zremrangebyscore", "zcard", "zadd", "pexpire"}
CONNECTING = {"hello", "client|setinfo"}


def round_trips(server: RedisServer, work: Callable[[], None]) -> dict[str, int]:
    """The commands clients sent to `server` while `work` ran, by name, apart from those run
    inside scripts (INFO counts those too) and those a new connection sends."""
    client = redis.Redis.from_url(server.url)
    try:
        before = client.info("commandstats")
        work()
        after = client.info("commandstats")
    finally:
        client.close()
    sent = {}
    for stat, value in after.items():
        name = stat.removeprefix("cmdstat_")
        calls = value["calls"] - before.get(stat, {"calls": 0})["calls"]
        if calls and name not in INSIDE_SCRIPTS | CONNECTING | {"info"}:
            sent[name] = calls
    return sent


# -- the hot path ---------------------------------------------------------------------------


def test_a_call_costs_one_round_trip(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, clock=FakeClock())
    g, limited, rated = gate(), gate("l", concurrency=4), gate("r", concurrency=4, rpm=1000)

    def calls(to: Gate) -> None:
        for _ in range(20):
            state.settle(to, ticket(state.admit(to, 0.0)), Verdict.ANSWERED, 0.0)

    try:
        calls(g)  # connected
        assert round_trips(redis_server, lambda: calls(g)) == {"evalsha": 20}
        # Slots go back beside the calls (ZREM in the background, or inside the next admit).
        assert round_trips(redis_server, lambda: calls(limited)) == {"evalsha": 20}
        assert round_trips(redis_server, lambda: calls(rated)) == {"evalsha": 20}
    finally:
        state.close()


def test_an_async_call_costs_one_round_trip(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, clock=FakeClock())
    g = gate()

    async def calls() -> None:
        for _ in range(20):
            await state.asettle(g, ticket(await state.aadmit(g, 0.0)), Verdict.ANSWERED, 0.0)

    try:
        asyncio.run(calls())
        assert round_trips(redis_server, lambda: asyncio.run(calls())) == {"evalsha": 20}
    finally:
        state.close()


def test_a_success_after_failures_clears_them_with_one_more_step(make_state: MakeState) -> None:
    state = make_state()
    g = Gate("instance:i", "breaker:i", BreakerPolicy(3, 30.0, 1), None)
    state.settle(g, ticket(state.admit(g, 0.0)), Verdict.FAILED, 0.0)
    state.settle(g, ticket(state.admit(g, 0.0)), Verdict.ANSWERED, 0.0)
    assert state.breaker_record("breaker:i") is CLOSED_RECORD


# -- slots as leases ------------------------------------------------------------------------


def test_a_slot_given_back_is_free_for_other_replicas_within_50ms(make_state: MakeState) -> None:
    a, b = make_state(), make_state()
    g = gate(concurrency=1)
    for _ in range(5):
        a.settle(g, ticket(a.admit(g, 0.0)), Verdict.ANSWERED, 0.0)
        given_back = time.monotonic()
        while type(answer := b.admit(g, 0.0)) is not Ticket:
            assert answer.reason is Reason.FULL
            assert time.monotonic() - given_back < 0.05
            time.sleep(0.001)
        b.settle(g, answer, Verdict.ANSWERED, 0.0)
        b.flush()


def test_a_replica_reuses_a_slot_it_just_gave_back(make_state: MakeState) -> None:
    state = make_state()
    g = gate(concurrency=1)
    for _ in range(50):
        state.settle(g, ticket(state.admit(g, 0.0)), Verdict.ANSWERED, 0.0)


def test_a_long_stream_keeps_its_slot_past_the_lease_time(make_state: MakeState) -> None:
    a, b = make_state(lease_time=0.3), make_state(lease_time=0.3)
    g = gate(concurrency=1)
    stream = ticket(a.admit(g, 0.0))
    a.settle(g, stream, Verdict.STREAM_OPENED, 0.0)
    time.sleep(0.8)
    assert b.in_flight("limits:i") == 1
    assert type(b.admit(g, 0.0)) is Refusal
    a.settle(g, stream, Verdict.STREAM_ENDED, 0.0)
    a.flush()
    assert b.in_flight("limits:i") == 0


def test_a_ticket_dropped_without_settling_gives_its_slot_back(make_state: MakeState) -> None:
    a, b = make_state(lease_time=0.3), make_state(lease_time=0.3)
    g = gate(concurrency=1)
    ticket(a.admit(g, 0.0))  # and forgotten: nobody can settle it now
    time.sleep(0.4)
    assert b.in_flight("limits:i") == 0


def test_a_closed_state_leaves_its_slots_to_expire(make_state: MakeState) -> None:
    a, b = make_state(lease_time=0.3), make_state(lease_time=0.3)
    g = gate(concurrency=1)
    ticket(a.admit(g, 0.0))
    a.close()
    assert b.in_flight("limits:i") == 1
    time.sleep(0.35)
    assert b.in_flight("limits:i") == 0
    ticket(b.admit(g, 0.0))


# -- the rpm window -------------------------------------------------------------------------


def test_the_rpm_window_slides_and_a_refusal_waits_exactly_enough(
    make_state: MakeState, redis_url: str, key_prefix: str
) -> None:
    a, b = make_state(), make_state()
    g = gate(rpm=3)
    for state in (a, b, a):
        ticket(state.admit(g, 0.0))
    client = redis.Redis.from_url(redis_url)
    try:
        name = f"{key_prefix}rpm:limits:i"
        assert client.zcard(name) == 3
        assert 60_000 < client.pttl(name) <= 61_000
        # Age the log instead of waiting a minute: admitted 59.8 s, 30 s and 0 s ago.
        log = client.zrange(name, 0, -1, withscores=True)
        first = log[0][1]
        ages = (59.8, 30.0, 0.0)
        client.zadd(name, {member: first - age for (member, _), age in zip(log, ages, strict=True)})
        wait = refusal(b.admit(g, 0.0), Reason.FULL).wait
        assert 0.2 - SLACK <= wait <= 0.2
        time.sleep(wait)
        ticket(a.admit(g, 0.0))  # exactly when the oldest left, not a moment later
        assert client.zcard(name) == 3  # the admit trimmed what left the window
        wait = refusal(b.admit(g, 0.0), Reason.FULL).wait
        assert 29.8 - SLACK <= wait <= 29.8
    finally:
        client.close()


def answered_after(state: RedisState, g: Gate, seconds: float) -> tuple[str, float]:
    """Admit a call under `g`'s rpm limit and settle it as answered `seconds` after its
    admission (its lease's clock moved back instead of waiting); its member and admission."""
    admitted = ticket(state.admit(g, 0.0))
    lease = admitted.lease
    lease.asked_mono -= seconds  # type: ignore[union-attr]
    state.settle(g, admitted, Verdict.ANSWERED, 0.0)
    return lease.member, lease.admitted_at  # type: ignore[union-attr, return-value]


def test_an_answered_call_moves_its_admission_to_its_answer(
    make_state: MakeState, redis_url: str, key_prefix: str
) -> None:
    a, b = make_state(), make_state()
    g = gate(rpm=2)
    client = redis.Redis.from_url(redis_url)
    try:
        name = f"{key_prefix}rpm:limits:i"
        member, admitted_at = answered_after(a, g, 5.0)
        a.flush()  # no admit came to carry the move: the background sends it
        assert abs(client.zscore(name, member) - (admitted_at + 5.0)) < SLACK
        member, admitted_at = answered_after(a, g, 3.0)
        assert client.zscore(name, member) == pytest.approx(admitted_at, abs=1e-6)
        # The window is full. Another process waits for the oldest entry as it stands (the
        # second admission, its move not sent yet); this process's next admit carries the
        # move before it counts, and waits until 60 s after that answer.
        wait = refusal(b.admit(g, 0.0), Reason.FULL).wait
        assert 60.0 - 2 * SLACK <= wait <= 60.0
        wait = refusal(a.admit(g, 0.0), Reason.FULL).wait
        assert 63.0 - 2 * SLACK <= wait <= 63.0
        assert abs(client.zscore(name, member) - (admitted_at + 3.0)) < SLACK
    finally:
        client.close()


# -- operators ------------------------------------------------------------------------------


def test_snapshot_lists_what_replicas_share(make_state: MakeState) -> None:
    a, b = make_state(), make_state()
    failing, limited = gate("f"), gate("l", concurrency=3)
    a.settle(failing, ticket(a.admit(failing, 0.0)), Verdict.FAILED, 0.0, 5.0)
    ticket(a.admit(limited, 0.0))
    a.record_health("pool:p:i", False, 1, 0.0)
    view = b.snapshot()
    assert view["status"] == "shared"
    breaker = view["breakers"]["breaker:f"]
    assert (breaker["state"], breaker["consecutive_failures"]) == ("open", 1)
    assert 29.0 < breaker["seconds_until_half_open"] <= 30.0
    assert 4.0 < view["cooldowns"]["instance:f"] <= 5.0
    assert view["slots"] == {"limits:l": 1}
    health = view["health"]["pool:p:i"]
    assert health["healthy"] is False and health["since"].endswith("+00:00")
    b.reset_breaker("breaker:f")
    assert a.breaker_record("breaker:f") is CLOSED_RECORD


def test_reset_touches_only_keys_under_the_prefix(
    make_state: MakeState, redis_url: str, key_prefix: str
) -> None:
    odd = key_prefix + "[a]*:"  # glob characters in the prefix match only themselves
    state = make_state(key_prefix=odd)
    state.settle(gate(), ticket(state.admit(gate(), 0.0)), Verdict.FAILED, 0.0)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(key_prefix + "a:breaker:x", "kept")
        client.set(key_prefix + "abreaker:x", "kept")
        state.reset()
        assert client.get(key_prefix + "a:breaker:x") == b"kept"
        assert client.get(key_prefix + "abreaker:x") == b"kept"
        assert list(client.scan_iter(match=f"{key_prefix}[[]*")) == []
    finally:
        client.close()


def test_the_password_stays_out_of_reprs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    url = "redis://:hunter2-secret-pass@127.0.0.1:9/0"
    state = RedisState(url, op_timeout=0.1, clock=FakeClock())
    try:
        assert "hunter2" not in repr(state)
        assert "127.0.0.1:9" in repr(state)
        assert "hunter2" not in caplog.text
        assert "127.0.0.1:9" in caplog.text
    finally:
        state.close()
