"""The Hedger takes its time from the Clock: with a FakeClock, a hedge starts when the test
moves time past the delay, never on its own, and the winner's time is measured on it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config import HedgingConfig
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.hedging import Hedger


def wait_until(condition: Any, seconds: float = 5.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "condition never held"
        time.sleep(0.001)


def test_a_sync_race_hedges_only_when_the_clock_passes_the_delay() -> None:
    clock = FakeClock()
    hedger = Hedger(HedgingConfig(delay=0.5, max_extra_attempts=1), clock)
    record = CallRecord(Deadline(clock, 60.0))
    release_first = threading.Event()
    started: list[int] = []

    def run_lane(lane: CallRecord) -> Any:
        started.append(len(started))
        if started[-1] == 0:
            release_first.wait(5)
            return "slow"
        return "fast"

    result: list[Any] = []
    racer = threading.Thread(target=lambda: result.append(hedger.race(record, run_lane, print)))
    racer.start()
    wait_until(lambda: started == [0])
    time.sleep(0.05)  # real time passes; fake time does not, so no hedge yet
    assert started == [0] and record.hedges == 0
    clock.advance(0.2)
    time.sleep(0.02)
    assert started == [0]  # 0.2 s of the 0.5 s delay
    clock.advance(0.3)
    racer.join(5)
    release_first.set()
    assert result == ["fast"] and record.hedges == 1
    assert list(hedger._latencies) == [0.0]  # the winner answered at once on the fake clock


async def test_an_async_race_hedges_only_when_the_clock_passes_the_delay() -> None:
    clock = FakeClock()
    hedger = Hedger(HedgingConfig(delay=0.5, max_extra_attempts=1), clock)
    record = CallRecord(Deadline(clock, 60.0))
    release_first = asyncio.Event()
    started: list[int] = []

    async def run_lane(lane: CallRecord) -> Any:
        started.append(len(started))
        if started[-1] == 0:
            await release_first.wait()
            return "slow"
        return "fast"

    async def discard(served: Any) -> None:
        """Nothing to free."""

    race = asyncio.ensure_future(hedger.arace(record, run_lane, discard))
    await asyncio.sleep(0.05)
    assert started == [0] and record.hedges == 0
    clock.advance(0.5)
    assert await asyncio.wait_for(race, 5) == "fast"
    assert record.hedges == 1
    assert started == [0, 1]  # the slow lane was cancelled, not awaited


async def test_a_waiting_call_follows_a_newer_delay() -> None:
    clock = FakeClock()
    hedger = Hedger(HedgingConfig(delay="p95", fallback_delay=1.0), clock)
    record = CallRecord(Deadline(clock, 60.0))
    release_first = asyncio.Event()
    started: list[int] = []

    async def run_lane(lane: CallRecord) -> Any:
        started.append(len(started))
        if started[-1] == 0:
            await release_first.wait()
        return "answer"

    async def discard(served: Any) -> None:
        """Nothing to free."""

    race = asyncio.ensure_future(hedger.arace(record, run_lane, discard))
    await asyncio.sleep(0.03)
    assert started == [0]  # cold: the delay is fallback_delay, a second away
    hedger.observe(0.01)  # another call answered in 10 ms: the delay is now 10 ms
    clock.advance(0.05)
    assert await asyncio.wait_for(race, 5) == "answer"
    assert started == [0, 1] and record.hedges == 1
