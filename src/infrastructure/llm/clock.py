"""Where routing code gets time from, so tests can drive time instead of sleeping."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of time: `now()` in seconds that never go backwards, and ways to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock: `time.monotonic`, `time.sleep` and `asyncio.sleep`."""

    # Bound straight to the C function: `clock.now()` costs no extra Python frame.
    now = staticmethod(time.monotonic)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock for tests: time moves only when told to; sleeping advances it instantly.

    Every `sleep`/`asleep` is recorded in `sleeps` so tests can assert on waits.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (negative values are ignored)."""
        with self._lock:
            self._now += max(seconds, 0.0)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        """Advance time, then yield to the event loop once so other tasks can run."""
        self.sleep(seconds)
        await asyncio.sleep(0)
