"""Async callers: each event loop gets its own Redis client, closed when the loop shuts down,
so `asyncio.run` may be called again and again without leaking a socket; the loop is never
blocked."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio

from infrastructure.llm.resilience.admission import Gate, Ticket, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import CircuitState

from .conftest import MakeState

GATE = Gate("instance:i", "breaker:i", BreakerPolicy(2, 30.0, 1), Limits("limits:i", 2, 600))


@pytest.fixture
def live_async_clients(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many of the redis.asyncio clients built during the test are still alive."""
    built: list[weakref.ref[redis.asyncio.Redis]] = []
    init = redis.asyncio.Redis.__init__

    def tracked(self: redis.asyncio.Redis, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        built.append(weakref.ref(self))

    monkeypatch.setattr(redis.asyncio.Redis, "__init__", tracked)

    def alive() -> int:
        gc.collect()
        return sum(ref() is not None for ref in built)

    return alive


async def calls(state: RedisState) -> list[object]:
    """A few calls at once, then two failures: what each settle returned."""

    async def one(verdict: Verdict) -> object:
        answer = await state.aadmit(GATE, 0.0)
        assert type(answer) is Ticket
        return await state.asettle(GATE, answer, verdict, 0.0)

    answered = await asyncio.gather(*(one(Verdict.ANSWERED) for _ in range(2)))
    failed = [await one(Verdict.FAILED), await one(Verdict.FAILED)]
    state.reset()
    return [*answered, *failed]


def test_asyncio_run_again_and_again_leaks_nothing(
    make_state: MakeState,
    caplog: pytest.LogCaptureFixture,
    live_async_clients: Callable[[], int],
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    state = make_state()
    opened = (CircuitState.CLOSED, CircuitState.OPEN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert asyncio.run(calls(state), debug=True) == [None, None, None, opened]
        assert live_async_clients() == 0  # each loop's client went with its loop
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []  # no slow step


def test_a_loop_closed_by_hand_can_close_its_client_first(
    make_state: MakeState, live_async_clients: Callable[[], int]
) -> None:
    state = make_state()
    loop = asyncio.new_event_loop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop.run_until_complete(calls(state))
        loop.run_until_complete(state.aclose_loop())
        loop.close()
        assert live_async_clients() == 0
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# Two asyncio.run calls in a fresh interpreter under -X dev, ResourceWarnings made errors.
DEV_MODE = """
import asyncio, sys
from infrastructure.llm.resilience.admission import Gate, Verdict
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.redis import RedisState
state = RedisState(sys.argv[1], key_prefix=sys.argv[2])
gate = Gate("instance:i", "breaker:i", BreakerPolicy(2, 30.0, 1), Limits("limits:i", 2))
async def call():
    ticket = await state.aadmit(gate, 0.0)
    await state.asettle(gate, ticket, Verdict.ANSWERED, 0.0)
    return state.status()
print(asyncio.run(call()), asyncio.run(call()))
state.close()
"""


def test_no_resource_warning_under_dev_mode(redis_url: str, key_prefix: str) -> None:
    dev_mode = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning"]
    run = subprocess.run(
        [*dev_mode, "-c", DEV_MODE, redis_url, key_prefix],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "shared shared\n"
    assert "ResourceWarning" not in run.stderr
    assert "Exception ignored" not in run.stderr
