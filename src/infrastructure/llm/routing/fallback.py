"""EnhancedFallbackManager: which targets a call may try, in what order, and the hops taken."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.strategies import FallbackStrategy
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.routing.history import FallbackEvent, FallbackHistory
from infrastructure.llm.routing.plan import FallbackPlan, Stage

if TYPE_CHECKING:
    from infrastructure.llm.fleet.task_group_manager import TaskGroupManager


class EnhancedFallbackManager:
    """Builds fallback plans from task-group config; keeps the hops of every wrapper it serves.

    Each wrapper keeps its own history too (`get_fallback_history()` on a wrapper shows only
    its calls); this one is the combined view across the wrappers of a factory.
    """

    def __init__(self, task_group_manager: TaskGroupManager, history_size: int = 200) -> None:
        self.task_group_manager = task_group_manager
        self.history = FallbackHistory(history_size)

    @property
    def clock(self) -> Clock:
        return self.task_group_manager.clock

    def plan(
        self,
        target: str,
        *,
        fallback_groups: list[str] | None = None,
        strategy: FallbackStrategy | str | None = None,
        max_attempts: int | None = None,
        deadline: float | None = None,
    ) -> FallbackPlan:
        """Resolve the targets for `target` ("group" or "group.echelonN") by strategy.

        `echelon_down`: the target's echelon and the group's lower echelons, then the
        fallback groups. `task_group_switch`: the target's echelon, then the fallback groups.
        `provider_failover`: like `echelon_down`, but each echelon is tried one provider at a
        time (its first model's provider first), so another provider's models take over
        only when a provider's instances are spent.
        Explicit arguments override the group's `fallback_config`. An explicit
        `fallback_groups` replaces the whole order after the target's echelon: the group's
        lower echelons are tried only where it lists them.
        """
        manager = self.task_group_manager
        group_name, echelon = manager.split_target(target)
        fallback = manager.group_config(group_name).fallback_config
        chosen = _strategy(target, strategy or fallback.strategy)
        first = echelon or 1
        explicit = fallback_groups is not None
        chain: list[Target]
        if chosen is FallbackStrategy.TASK_GROUP_SWITCH:
            chain = [manager.target(group_name, first)]
        else:
            walk = (
                manager.targets_of(group_name)
                if chosen is FallbackStrategy.ECHELON_DOWN
                else manager.provider_targets(group_name)
            )
            below = not explicit  # an explicit list says itself which lower echelons to try
            chain = [
                t for t in walk if t.echelon.number == first or (below and t.echelon.number > first)
            ]
        for name in fallback_groups if fallback_groups is not None else fallback.fallback_groups:
            chain.extend(manager.resolve(name))
        unique = tuple({t.name: t for t in chain}.values())[: max_attempts or fallback.max_attempts]
        budget = deadline or fallback.deadline or 2 * max(t.config.timeout for t in unique)
        stages = tuple(Stage(t, t.config.max_retries + 1) for t in unique)
        return FallbackPlan(target, chosen, stages, fallback.retry_delay, budget)

    def record(self, events: Iterable[FallbackEvent]) -> None:
        """Add hops taken by a call of one of the wrappers to the combined history."""
        self.history.extend(events)

    def get_fallback_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Recent hops of every wrapper using this manager, oldest first."""
        return self.history.as_dicts(limit)

    def clear_history(self) -> None:
        self.history.clear()


def _strategy(target: str, value: FallbackStrategy | str) -> FallbackStrategy:
    try:
        return FallbackStrategy(value)
    except ValueError:
        known = ", ".join(s.value for s in FallbackStrategy)
        raise LLMWrapperError(
            f"{target}: unknown fallback strategy {value!r}; expected one of {known}"
        ) from None
