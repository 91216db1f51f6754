"""Hedged requests: when a call has not answered after a delay, race another lane against it.

A lane is one full routing run (its own retries and fallbacks) with its own `CallRecord`;
lanes share the call's deadline and `busy` set, so a hedge goes to an instance the other
lanes are not using. The first lane to succeed wins; the others are cancelled (async) or,
in sync calls where a blocked HTTP request cannot be interrupted, left to finish in a worker
thread with their answer dropped. Every lane takes its own limit slot.

`race` and `arace` stay two loops because threads and tasks differ where it matters here: a
task can be cancelled, a thread cannot. Every decision they make is shared: when the next
lane is due, which finished lane wins, which error to raise.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from infrastructure.llm.clock import Clock
from infrastructure.llm.config import HedgingConfig
from infrastructure.llm.resilience.error_classification import is_request_fault
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.engine import Served

T = TypeVar("T")

# Recompute the observed p95 after this many new latencies, not on every call.
_P95_REFRESH = 10
# How often a waiting call looks at the delay again while the estimate is cold (seconds).
_COLD_LOOK = 0.01

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _lane_executor() -> ThreadPoolExecutor:
    """Worker threads for sync hedged calls, created on first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=128, thread_name_prefix="llm-hedge")
        return _executor


class Hedger:
    """Decides when to hedge (a fixed delay or the observed p95) and races the lanes.

    Time comes from `clock`, both to time the lanes and to wait for the next one.
    """

    def __init__(self, config: HedgingConfig, clock: Clock, window: int = 500) -> None:
        self.config = config
        self._clock = clock
        self._latencies: deque[float] = deque(maxlen=window)
        self._p95: float | None = None
        self._unsorted = 0

    def delay(self) -> float:
        """Seconds to wait for an answer before starting the next lane.

        With `p95`: the observed p95 once `min_samples` answers were seen. Before that, the
        slowest answer seen so far (the p95 of so few), but never more than `fallback_delay`;
        with no answer at all, `fallback_delay`.
        """
        if self.config.delay != "p95":
            return float(self.config.delay)
        seen = len(self._latencies)
        if seen < self.config.min_samples:
            if not seen:
                return self.config.fallback_delay
            return min(self.config.fallback_delay, max(self._latencies))
        if self._p95 is None or self._unsorted >= _P95_REFRESH:
            ordered = sorted(self._latencies)
            self._p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            self._unsorted = 0
        return self._p95

    def observe(self, seconds: float) -> None:
        """Note how long a winning lane took to answer (or to its first chunk)."""
        self._latencies.append(seconds)
        self._unsorted += 1

    async def arace(
        self,
        record: CallRecord,
        run_lane: Callable[[CallRecord], Awaitable[Served[T]]],
        discard: Callable[[Served[T]], Awaitable[None]],
    ) -> Served[T]:
        """Run lanes until one succeeds, cancelling the rest; if all fail, raise lane 1's error."""
        clock = self._clock
        lanes: dict[asyncio.Future[Served[T]], tuple[CallRecord, float]] = {}
        errors: list[BaseException] = []
        winner: asyncio.Future[Served[T]] | None = None

        def launch() -> asyncio.Future[Served[T]]:
            lane = record.lane()
            task = asyncio.ensure_future(run_lane(lane))
            lanes[task] = (lane, clock.now())
            return task

        first = launch()
        started = clock.now()
        pending: set[asyncio.Future[Served[T]]] = {first}
        try:
            while pending:
                done = await clock.await_first(pending, self._next_look(started, len(lanes)))
                if not done:
                    if self._due(started, len(lanes)):
                        pending.add(launch())
                        record.hedges += 1
                    continue
                pending -= done
                winner = self._winner(done, lanes, errors)
                if winner is not None:
                    return winner.result()
            raise self._first_error(first, errors)
        finally:
            if winner is not None:
                self._outrun(winner, pending, lanes)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            for task, (lane, _) in lanes.items():
                record.absorb(lane)
                if task is not winner and not task.cancelled() and task.exception() is None:
                    await discard(task.result())

    def race(
        self,
        record: CallRecord,
        run_lane: Callable[[CallRecord], Served[T]],
        discard: Callable[[Served[T]], None],
    ) -> Served[T]:
        """Sync twin of `arace`: lanes run in worker threads; losers finish there, dropped."""
        clock = self._clock
        executor = _lane_executor()
        lanes: dict[Future[Served[T]], tuple[CallRecord, float]] = {}
        errors: list[BaseException] = []
        winner: Future[Served[T]] | None = None

        def launch() -> Future[Served[T]]:
            lane = record.lane()
            # The lane runs in the caller's context (its span, LangChain's run), as its own copy.
            future = executor.submit(contextvars.copy_context().run, run_lane, lane)
            lanes[future] = (lane, clock.now())
            return future

        first = launch()
        started = clock.now()
        pending: set[Future[Served[T]]] = {first}
        try:
            while pending:
                done = clock.wait_first(pending, self._next_look(started, len(lanes)))
                if not done:
                    if self._due(started, len(lanes)):
                        pending.add(launch())
                        record.hedges += 1
                    continue
                pending -= done
                winner = self._winner(done, lanes, errors)
                if winner is not None:
                    return winner.result()
            raise self._first_error(first, errors)
        finally:
            for future, (lane, _) in lanes.items():
                record.absorb(lane)
                if future is not winner:
                    future.cancel()
                    future.add_done_callback(_discarding(discard))

    @staticmethod
    def _outrun(
        winner: Any, losers: Iterable[Any], lanes: Mapping[Any, tuple[CallRecord, float]]
    ) -> None:
        """Mark the lanes started before the winner: their instances were slower than it."""
        won_from = lanes[winner][1]
        for lane in losers:
            record, started = lanes[lane]
            if started < won_from:
                record.outrun = True

    def _winner(
        self,
        done: Iterable[Any],
        lanes: Mapping[Any, tuple[CallRecord, float]],
        errors: list[BaseException],
    ) -> Any | None:
        """The first succeeded lane in `done` (its answer time observed), or None.

        Failed lanes' errors go to `errors`; an error no other lane can fix is raised.
        """
        for lane in done:
            exc = lane.exception()
            if exc is None:
                self.observe(self._clock.now() - lanes[lane][1])
                return lane
            errors.append(exc)
            if is_request_fault(exc):
                raise exc
        return None

    def _next_look(self, started: float, launched: int) -> float | None:
        """Seconds to wait before looking again (None: no more lanes may start).

        Until the next lane is due, but no longer than a quarter of the delay (10 ms while
        the estimate is still cold), so a waiting call follows a newer delay: the first
        answers of a cold start bring every waiting call's hedge forward.
        """
        if launched > self.config.max_extra_attempts:
            return None
        delay = self.delay()
        left = max(started + launched * delay - self._clock.now(), 0.0)
        if self.config.delay != "p95":
            return left
        cold = len(self._latencies) < self.config.min_samples
        return min(left, _COLD_LOOK if cold else max(_COLD_LOOK, delay / 4))

    def _due(self, started: float, launched: int) -> bool:
        """Whether the next lane is due now, by the current delay."""
        if launched > self.config.max_extra_attempts:
            return False
        return self._clock.now() >= started + launched * self.delay()

    @staticmethod
    def _first_error(first: Any, errors: list[BaseException]) -> BaseException:
        """The first lane's error (it tried longest), else the first error seen."""
        if first.done() and not first.cancelled() and first.exception() is not None:
            return first.exception()
        return errors[0]


def _discarding(discard: Callable[[Served[T]], None]) -> Callable[[Future[Served[T]]], None]:
    """A done-callback that drops a losing lane's answer (closing its stream, freeing its slot)."""

    def on_done(future: Future[Served[T]]) -> None:
        if not future.cancelled() and future.exception() is None:
            discard(future.result())

    return on_done
