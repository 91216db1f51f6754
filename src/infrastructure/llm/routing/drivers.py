"""The two drivers that carry out the engine's steps: `drive` for sync callers, `adrive` for
async ones. They hold no decisions; everything they do is one step's I/O or waiting.

A step's result is sent back into the engine; an error it raised is thrown back in at the
step, so the engine handles failures where it asked for the work. The async driver awaits
the state only when the state is not `local`, so an in-memory state costs no extra await.

An attempt runs with its `AttemptLimit` current (`CURRENT_ATTEMPT`), so the package's HTTP
transports can hold it to the limit and note what the server answered; the limit also times
the attempt (`start`, `stop_clock`), which the engine records with its outcome. The async
driver also cancels an attempt at its limit; a sync one cannot be interrupted from here, so
the sync transport does that part.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from infrastructure.llm.clock import Clock
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.observability.tracing import attempt_span
from infrastructure.llm.resilience.state import SharedState, Transition
from infrastructure.llm.resilience.time_limits import CURRENT_ATTEMPT, AttemptLimit
from infrastructure.llm.routing.steps import Admit, Attempt, Settle, Steps

T = TypeVar("T")

logger = logging.getLogger(__name__)

AttemptFn = Callable[[Member], Any]
"""Calls one instance: `attempt(member)` returns the answer or raises. Its time limit is
`CURRENT_ATTEMPT`, which the package's transports enforce."""

AsyncAttemptFn = Callable[[Member], Awaitable[Any]]


def log_transition(step: Settle, transition: Transition) -> None:
    """Say at INFO that settling `step` moved a breaker (`breaker:<group>:<instance>`)."""
    before, after = transition
    breaker = step.gate.breaker_key.removeprefix("breaker:")
    logger.info("breaker %s: %s -> %s", breaker, before.value, after.value)


def _no_attempts(member: Member) -> Any:
    raise RuntimeError("these steps make no attempts")


async def _no_async_attempts(member: Member) -> Any:
    raise RuntimeError("these steps make no attempts")


def drive(
    steps: Steps[T], state: SharedState, clock: Clock, attempt: AttemptFn = _no_attempts
) -> T:
    """Run `steps` to the end in this thread and return their result."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(send) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        error = None
        try:
            if isinstance(step, Attempt):
                limit = step.limit
                limit.start()
                current = CURRENT_ATTEMPT.set(limit)
                try:
                    with attempt_span(step.member):
                        send = attempt(step.member)
                finally:
                    limit.stop_clock()
                    CURRENT_ATTEMPT.reset(current)
            elif isinstance(step, Admit):
                send = state.admit(step.gate, clock.now())
            elif isinstance(step, Settle):
                now = clock.now()
                send = state.settle(step.gate, step.ticket, step.verdict, now, step.cooldown)
                if send is not None:
                    log_transition(step, send)
            else:
                send = None
                clock.sleep(step.seconds)
        except BaseException as exc:
            error = exc


async def adrive(
    steps: Steps[T],
    state: SharedState,
    clock: Clock,
    attempt: AsyncAttemptFn = _no_async_attempts,
) -> T:
    """Run `steps` to the end on the running event loop and return their result."""
    local = state.local
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(send) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        error = None
        try:
            if isinstance(step, Attempt):
                limit = step.limit
                limit.start()
                current = CURRENT_ATTEMPT.set(limit)
                try:
                    with attempt_span(step.member):
                        send = await within(limit, attempt(step.member))
                finally:
                    limit.stop_clock()
                    CURRENT_ATTEMPT.reset(current)
            elif isinstance(step, Admit):
                now = clock.now()
                send = state.admit(step.gate, now) if local else await state.aadmit(step.gate, now)
            elif isinstance(step, Settle):
                args = (step.gate, step.ticket, step.verdict, clock.now(), step.cooldown)
                send = state.settle(*args) if local else await state.asettle(*args)
                if send is not None:
                    log_transition(step, send)
            else:
                send = None
                await clock.asleep(step.seconds)
        except BaseException as exc:
            error = exc


async def within(limit: AttemptLimit, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it when `limit` runs out (then `limit.cut` is set and
    TimeoutError raised)."""
    if sys.version_info >= (3, 11):
        deadline = asyncio.timeout(limit.remaining())
        try:
            async with deadline:
                return await work
        except TimeoutError:
            if deadline.expired():
                limit.cut = True
            raise
    try:  # Python 3.10: no asyncio.timeout
        return await asyncio.wait_for(work, limit.remaining())
    except asyncio.TimeoutError:
        limit.cut = True
        raise
