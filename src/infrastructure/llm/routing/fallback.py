"""EnhancedFallbackManager: which targets a call may try, in what order, and the hop history."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    DeadlineExceededError,
    LLMWrapperError,
    NoCapacityError,
    error_summary,
)
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.resilience.error_classification import ErrorKind, classify
from infrastructure.llm.routing.attempts import Served, arun_on_target, run_on_target
from infrastructure.llm.routing.call_record import CallRecord

if TYPE_CHECKING:
    from infrastructure.llm.fleet.task_group_manager import TaskGroupManager

T = TypeVar("T")

# Routing errors raised by our own layer before any instance was asked.
_NOT_FROM_INSTANCE = (CircuitOpenError, NoCapacityError)


@dataclass(frozen=True)
class FallbackEvent:
    """One hop from a spent target to the next."""

    time: float
    from_target: str
    to_target: str
    reason: str
    error_type: str


@dataclass(frozen=True)
class FallbackPlan:
    """The ordered targets one call may try, with the pause between hops and the deadline."""

    origin: str
    strategy: str
    targets: tuple[Target, ...]
    retry_delay: float
    deadline: float


class EnhancedFallbackManager:
    """Builds fallback plans from task-group config and runs calls along them."""

    def __init__(self, task_group_manager: TaskGroupManager, history_size: int = 200) -> None:
        self.task_group_manager = task_group_manager
        self.history: deque[FallbackEvent] = deque(maxlen=history_size)

    @property
    def clock(self) -> Clock:
        return self.task_group_manager.clock

    def plan(
        self,
        target: str,
        *,
        fallback_groups: list[str] | None = None,
        strategy: str | None = None,
        max_attempts: int | None = None,
        deadline: float | None = None,
    ) -> FallbackPlan:
        """Resolve the targets for `target` ("group" or "group.echelonN") by strategy.

        `echelon_down`: the target's echelon and the group's lower echelons, then the
        fallback groups. `task_group_switch`: the target's echelon, then the fallback groups.
        `provider_failover`: like `echelon_down`, but each echelon is tried one provider at a
        time (its first model's provider first), so another provider's models take over
        only when a provider's instances are spent.
        Explicit arguments override the group's `fallback_config`.
        """
        manager = self.task_group_manager
        group_name, echelon = manager.split_target(target)
        fallback = manager.group_config(group_name).fallback_config
        strategy = strategy or fallback.strategy
        first = echelon or 1
        if strategy == "echelon_down":
            chain = [t for t in manager.targets_of(group_name) if t.echelon >= first]
        elif strategy == "task_group_switch":
            chain = [manager.target(group_name, first)]
        elif strategy == "provider_failover":
            chain = [t for t in manager.provider_targets(group_name) if t.echelon >= first]
        else:
            raise LLMWrapperError(f"{target}: unknown fallback strategy {strategy!r}")
        for name in fallback.fallback_groups if fallback_groups is None else fallback_groups:
            chain.extend(manager.resolve(name))
        unique = tuple({t.name: t for t in chain}.values())[: max_attempts or fallback.max_attempts]
        budget = deadline or fallback.deadline or 2 * max(t.config.timeout for t in unique)
        return FallbackPlan(target, strategy, unique, fallback.retry_delay, budget)

    def run(
        self,
        plan: FallbackPlan,
        record: CallRecord,
        op: Callable[[Target, Instance, float], T],
        *,
        streaming: bool = False,
    ) -> Served[T]:
        """Try each target of `plan` in turn until one answers."""
        last: Exception | None = None
        for position, target in enumerate(plan.targets):
            if position:
                pause = self._hop(plan, position, last, record)
                if pause > 0:
                    self.clock.sleep(pause)
            try:
                return run_on_target(target, record, self.clock, op, streaming=streaming)
            except Exception as exc:
                last = self._settle(target, exc, record)
                if isinstance(exc, DeadlineExceededError):
                    break
        raise self._exhausted(plan, record, last) from last

    async def arun(
        self,
        plan: FallbackPlan,
        record: CallRecord,
        op: Callable[[Target, Instance, float], Awaitable[T]],
        *,
        streaming: bool = False,
    ) -> Served[T]:
        """Async twin of `run`."""
        last: Exception | None = None
        for position, target in enumerate(plan.targets):
            if position:
                pause = self._hop(plan, position, last, record)
                if pause > 0:
                    await self.clock.asleep(pause)
            try:
                return await arun_on_target(target, record, self.clock, op, streaming=streaming)
            except Exception as exc:
                last = self._settle(target, exc, record)
                if isinstance(exc, DeadlineExceededError):
                    break
        raise self._exhausted(plan, record, last) from last

    def get_fallback_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        events = list(self.history)
        return [asdict(e) for e in (events[-limit:] if limit else events)]

    def clear_history(self) -> None:
        self.history.clear()

    def _settle(self, target: Target, exc: Exception, record: CallRecord) -> Exception:
        """Re-raise errors that no other target can fix; otherwise note and return the error."""
        if not isinstance(exc, LLMWrapperError) and classify(exc) is ErrorKind.FATAL:
            raise exc
        if isinstance(exc, (*_NOT_FROM_INSTANCE, DeadlineExceededError)):
            record.note_failure(target.name, exc)
        return exc

    def _hop(
        self, plan: FallbackPlan, position: int, last: Exception | None, record: CallRecord
    ) -> float:
        """Record the hop to `plan.targets[position]`; return the pause before trying it."""
        record.fallbacks += 1
        reason = error_summary(last) if last else ""
        self.history.append(
            FallbackEvent(
                time=time.time(),
                from_target=plan.targets[position - 1].name,
                to_target=plan.targets[position].name,
                reason=reason,
                error_type=type(last).__name__ if last else "",
            )
        )
        return min(plan.retry_delay, max(record.deadline.remaining(), 0.0))

    @staticmethod
    def _exhausted(
        plan: FallbackPlan, record: CallRecord, last: Exception | None
    ) -> AllTargetsFailedError:
        tried = ", ".join(t.name for t in plan.targets)
        detail = "; ".join(record.failures) or "no attempt could start"
        return AllTargetsFailedError(
            f"{plan.origin}: no target answered ({record.attempts} attempts across {tried}): "
            f"{detail}",
            attempts=record.failures,
            last_error=last,
        )
