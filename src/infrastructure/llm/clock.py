"""Where routing code gets time from, so tests can drive time instead of sleeping."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Collection
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound="concurrent.futures.Future[Any]")
A = TypeVar("A", bound="asyncio.Future[Any]")

# How often a FakeClock race looks again at its futures and at the fake time, in real seconds.
_FAKE_POLL = 0.002


class Clock(Protocol):
    """A source of time: `now()` in seconds that never go backwards, and ways to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...

    def wait_first(self, futures: Collection[F], timeout: float | None) -> set[F]:
        """Wait until one of `futures` is done or `timeout` seconds pass; return the done."""
        ...

    async def await_first(self, futures: Collection[A], timeout: float | None) -> set[A]:
        """`wait_first` for asyncio futures and tasks."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic`, `time.sleep` and `asyncio.sleep`."""

    # Bound straight to the C functions: `clock.now()` costs no extra Python frame.
    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def wait_first(self, futures: Collection[F], timeout: float | None) -> set[F]:
        done, _ = concurrent.futures.wait(
            futures, timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        return done  # type: ignore[return-value]

    async def await_first(self, futures: Collection[A], timeout: float | None) -> set[A]:
        done, _ = await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return done


class FakeClock:
    """A clock for tests: time moves only when told to; sleeping advances it instantly.

    Every `sleep`/`asleep` is recorded in `sleeps` so tests can assert on waits. Waiting for
    futures (`wait_first`, `await_first`) does not jump: it waits in real time until a future
    is done or the fake time has been moved past the timeout (by `advance`, or by another
    caller's sleep).
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

    def wait_first(self, futures: Collection[F], timeout: float | None) -> set[F]:
        until = None if timeout is None else self._now + timeout
        while True:
            done, _ = concurrent.futures.wait(
                futures, _FAKE_POLL, return_when=concurrent.futures.FIRST_COMPLETED
            )
            if done or (until is not None and self._now >= until):
                return done  # type: ignore[return-value]

    async def await_first(self, futures: Collection[A], timeout: float | None) -> set[A]:
        until = None if timeout is None else self._now + timeout
        while True:
            done, _ = await asyncio.wait(
                futures, timeout=_FAKE_POLL, return_when=asyncio.FIRST_COMPLETED
            )
            if done or (until is not None and self._now >= until):
                return done
