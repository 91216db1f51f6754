"""CallRouter: what a wrapper needs to route its calls, in one plain object.

It starts each call's record, runs the engine under the sync or async driver (as hedged
lanes when hedging is configured), and keeps what the calls leave behind: statistics and
fallback history. Wrappers hold one router and reach everything through it, so the hot path
reads one attribute of the wrapper instead of many.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from infrastructure.llm.cache.response_cache import ResponseCache
from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.observability.tracing import call_span, describe_call
from infrastructure.llm.redaction import one_line
from infrastructure.llm.resilience.admission import Verdict
from infrastructure.llm.resilience.state import SharedState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import adrive, drive
from infrastructure.llm.routing.engine import Served, end_stream, route
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.routing.hedging import Hedger
from infrastructure.llm.routing.history import FallbackHistory
from infrastructure.llm.routing.plan import FallbackPlan
from infrastructure.llm.routing.stats import CallStats

if TYPE_CHECKING:
    from infrastructure.llm.providers.mock import MockChatModel

T = TypeVar("T")

logger = logging.getLogger(__name__)

# How the all-targets-failed WARNING begins when the mock answers instead (offline_fallback).
_OFFLINE_NOTE = "answering offline from the mock provider (offline_fallback: mock); "


class CallRouter:
    """Routes calls along `plan`, with limits, breakers and health in `state`.

    `shared_history`, when given, also receives every hop (a factory's combined view);
    `cache`, when given, answers the calls it has seen before; `offline`, when given, answers
    the calls no instance answered (`offline_fallback: mock`).
    """

    __slots__ = (
        "cache",
        "clock",
        "hedger",
        "history",
        "name",
        "offline",
        "plan",
        "shared_history",
        "state",
        "stats",
    )

    def __init__(
        self,
        plan: FallbackPlan,
        state: SharedState,
        clock: Clock,
        hedger: Hedger | None = None,
        shared_history: EnhancedFallbackManager | None = None,
        cache: ResponseCache | None = None,
        name: str = "",
        offline: MockChatModel | None = None,
    ) -> None:
        self.name = name
        self.offline = offline
        self.plan = plan
        self.cache = cache
        self.state = state
        self.clock = clock
        self.hedger = hedger
        self.shared_history = shared_history
        self.history = FallbackHistory()
        self.stats = CallStats()

    def start(self, affinity: str | None = None) -> CallRecord:
        """A fresh record for one call, its deadline starting now; `affinity` is the call's
        affinity key (`prefix_affinity` pools place calls by it)."""
        self.stats.started()
        deadline = Deadline(self.clock, self.plan.deadline)
        return CallRecord(deadline, wrapper=self.name, affinity=affinity)

    def serve(
        self,
        record: CallRecord,
        attempt: Callable[[Member], T],
        streaming: bool,
        discard: Callable[[Served[T]], None],
    ) -> Served[T] | None:
        """Route one call; `discard` frees what a losing hedge lane's answer holds.

        A call no instance answered is counted as failed; then its error is raised, or, with
        an offline fallback, None says the mock is to answer it.
        """
        plan, state, clock = self.plan, self.state, self.clock
        try:
            with self._span(streaming) as span, _Accounted(self, record):
                if self.hedger is None:
                    served = drive(route(plan, record, streaming), state, clock, attempt)
                else:
                    served = self.hedger.race(
                        record,
                        lambda lane: drive(route(plan, lane, streaming), state, clock, attempt),
                        discard,
                    )
                describe_call(span, served, record)
                return served
        except AllTargetsFailedError:
            if self.offline is None:
                raise
            return None

    async def aserve(
        self,
        record: CallRecord,
        attempt: Callable[[Member], Awaitable[Any]],
        streaming: bool,
        discard: Callable[[Served[Any]], Awaitable[None]],
    ) -> Served[Any] | None:
        """Async twin of `serve`."""
        plan, state, clock = self.plan, self.state, self.clock
        try:
            with self._span(streaming) as span, _Accounted(self, record):
                if self.hedger is None:
                    served = await adrive(route(plan, record, streaming), state, clock, attempt)
                else:
                    served = await self.hedger.arace(
                        record,
                        lambda lane: adrive(route(plan, lane, streaming), state, clock, attempt),
                        discard,
                    )
                describe_call(span, served, record)
                return served
        except AllTargetsFailedError:
            if self.offline is None:
                raise
            return None

    def _span(self, streaming: bool) -> AbstractContextManager[Any]:
        """The OpenTelemetry span of one call (a no-op unless tracing is enabled)."""
        return call_span(self.name, self.plan.stages[0].candidates.name, streaming)

    def end_stream(self, served: Served[Any], verdict: Verdict) -> None:
        """A stream that answered has ended or broke: give its slot back."""
        drive(end_stream(served, verdict), self.state, self.clock)

    async def aend_stream(self, served: Served[Any], verdict: Verdict) -> None:
        """Async twin of `end_stream`."""
        await adrive(end_stream(served, verdict), self.state, self.clock)


class _Accounted:
    """Around one routed call: keep its hops, and count it as failed if it raised."""

    __slots__ = ("record", "router")

    def __init__(self, router: CallRouter, record: CallRecord) -> None:
        self.router = router
        self.record = record

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        router, record = self.router, self.record
        if exc_type is not None and issubclass(exc_type, Exception):
            router.stats.record(record, ok=False, latency=0.0, usage=None)
            if isinstance(exc, AllTargetsFailedError):
                offline = "" if router.offline is None else _OFFLINE_NOTE
                logger.warning("%s: %s%s", router.name, offline, one_line(str(exc)))
        elif exc_type is not None:  # cancelled: the call ends without an outcome
            router.stats.abandoned()
        if record.hops:
            router.history.extend(record.hops)
            if router.shared_history is not None:
                router.shared_history.record(record.hops)
