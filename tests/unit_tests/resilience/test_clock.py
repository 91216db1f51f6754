"""FakeClock drives time for every resilience test; MonotonicClock is the real one."""

from __future__ import annotations

import asyncio

from infrastructure.llm.clock import Clock, FakeClock, MonotonicClock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start=100.0)
    assert clock.now() == 100.0
    clock.advance(2.5)
    assert clock.now() == 102.5
    clock.advance(-1.0)
    assert clock.now() == 102.5


def test_fake_clock_sleep_advances_and_records() -> None:
    clock = FakeClock()
    clock.sleep(1.5)
    clock.sleep(0.25)
    assert clock.now() == 1.75
    assert clock.sleeps == [1.5, 0.25]


async def test_fake_clock_asleep_advances_and_yields_to_the_loop() -> None:
    clock = FakeClock()
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.create_task(other())
    await clock.asleep(3.0)
    assert ran == ["other"]
    assert clock.now() == 3.0
    assert clock.sleeps == [3.0]
    await task


async def test_monotonic_clock_satisfies_the_protocol() -> None:
    clock: Clock = MonotonicClock()
    first = clock.now()
    clock.sleep(0)
    await clock.asleep(0)
    assert clock.now() >= first
