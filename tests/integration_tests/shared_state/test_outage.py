"""Redis trouble never fails a call: down at start, killed mid-run or stalled, the state goes
on locally, says so once, and shares again when Redis is back. Tickets settle where they were
issued."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.resilience.admission import Gate, Reason, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import CLOSED_RECORD, CircuitState

from .conftest import RedisServer, free_port

LOGGER = "infrastructure.llm.resilience.redis"
GATE = Gate("instance:i", "breaker:i", BreakerPolicy(1, 30.0, 1), Limits("limits:i", 1))


def ticket(answer: Ticket | Refusal) -> Ticket:
    assert type(answer) is Ticket, f"refused: {answer.reason}"  # type: ignore[union-attr]
    return answer  # type: ignore[return-value]


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER) and r.levelno == level]


def wait_until_shared(state: RedisState, within: float) -> float:
    """Seconds until `state` shares again; fails after `within`."""
    started = time.monotonic()
    while state.status() != "shared":
        assert time.monotonic() - started < within, state.status()
        time.sleep(0.02)
    return time.monotonic() - started


def test_redis_down_at_start_leaves_every_operation_working_locally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", clock=FakeClock())
    try:
        held = ticket(state.admit(GATE, 0.0))
        assert held.lease is None  # a local ticket
        assert type(state.admit(GATE, 0.0)) is Refusal  # the limit still holds, in-process
        assert state.settle(GATE, held, Verdict.FAILED, 0.0) == (
            CircuitState.CLOSED,
            CircuitState.OPEN,
        )
        assert state.in_flight("limits:i") == 0
        assert state.breaker_record("breaker:i").state is CircuitState.OPEN
        assert state.record_health("pool:p:i", False, 1, 0.0).healthy is False
        assert state.claim_probe("pool:p:i", 10.0, 0.0)
        assert state.snapshot()["breakers"] == {}
        state.reset()
        assert state.status().startswith("local (degraded since ")
        assert state.status().endswith("Z)")
        assert len(records(caplog, logging.WARNING)) == 1
    finally:
        state.close()


def test_a_killed_server_is_shared_again_once_it_is_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    state = RedisState(redis_server.url, clock=FakeClock())
    try:
        shared = ticket(state.admit(GATE, 0.0))
        assert shared.lease is not None
        redis_server.kill()
        started = time.monotonic()
        local = ticket(state.admit(GATE, 0.0))  # Redis's slot is out of reach: a local one
        assert local.lease is None
        assert time.monotonic() - started < 0.1  # a refused connection fails at once
        assert state.status().startswith("local (degraded since ")
        assert state.settle(GATE, shared, Verdict.ANSWERED, 0.0) is None  # dropped quietly
        redis_server.start()
        assert wait_until_shared(state, within=2.0) < 1.0  # the first retry, 0.5 s after
        # The local ticket settles locally: its failure opens the local breaker only.
        assert state.settle(GATE, local, Verdict.FAILED, 0.0) is not None
        assert state.breaker_record("breaker:i") is CLOSED_RECORD
        again = ticket(state.admit(GATE, 0.0))
        assert again.lease is not None and state.in_flight("limits:i") == 1
        assert len(records(caplog, logging.WARNING)) == 1
        assert len(records(caplog, logging.INFO)) == 1
    finally:
        state.close()


def test_a_stalled_server_costs_a_call_at_most_op_timeout(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, op_timeout=0.1, clock=FakeClock())
    try:
        redis_server.pause(0.5)
        started = time.monotonic()
        first = ticket(state.admit(GATE, 0.0))
        assert time.monotonic() - started < 0.2
        state.settle(GATE, first, Verdict.ANSWERED, 0.0)
        assert state.status().startswith("local")
        started = time.monotonic()
        for _ in range(100):  # while Redis is out, calls never wait for it
            state.settle(GATE, ticket(state.admit(GATE, 0.0)), Verdict.ANSWERED, 0.0)
        assert time.monotonic() - started < 0.05
    finally:
        state.close()


def test_async_calls_go_local_when_redis_is_gone(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, clock=FakeClock())

    async def call() -> Ticket:
        answer = ticket(await state.aadmit(GATE, 0.0))
        await state.asettle(GATE, answer, Verdict.ANSWERED, 0.0)
        return answer

    try:
        assert asyncio.run(call()).lease is not None
        redis_server.kill()
        assert asyncio.run(call()).lease is None
        refused = asyncio.run(state.aadmit(GATE, 0.0))
        assert type(refused) is Ticket  # the local slot came back on settle
    finally:
        state.close()


def test_a_refusal_from_the_fallback_reads_like_one_from_redis() -> None:
    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", clock=FakeClock())
    try:
        ticket(state.admit(GATE, 0.0))
        refused = state.admit(GATE, 0.0)
        assert type(refused) is Refusal and refused.reason is Reason.FULL
    finally:
        state.close()
