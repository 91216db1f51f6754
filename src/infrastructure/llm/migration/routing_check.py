"""Compare the routing two configurations set up: which targets each call tries, in what order,
with what pauses, deadline and breakers, and how each pool retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrastructure.llm.config import CircuitBreakerConfig, HedgingConfig, LLMConfig
from infrastructure.llm.errors import ConfigIssue
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.routing.fallback import EnhancedFallbackManager


@dataclass(frozen=True)
class Route:
    """What a call starting at one `group.echelonN` does."""

    targets: tuple[str, ...]
    retry_delay: float
    deadline: float
    circuit_breaker: CircuitBreakerConfig
    hedging: HedgingConfig | None


def routes(config: LLMConfig) -> dict[str, dict[str, Route]]:
    """Every group's routes, by starting target: one per echelon."""
    manager = TaskGroupManager(config)
    fallback = EnhancedFallbackManager(manager)
    result: dict[str, dict[str, Route]] = {}
    for name, group in config.groups.items():
        result[name] = {}
        for echelon in group.echelon_names():
            start = f"{name}.{echelon}"
            plan = fallback.plan(start)
            result[name][start] = Route(
                targets=tuple(target.name for target in plan.targets),
                retry_delay=plan.retry_delay,
                deadline=plan.deadline,
                circuit_breaker=group.fallback_config.circuit_breaker,
                hedging=group.fallback_config.hedging,
            )
    return result


def route_differences(
    before: LLMConfig, after: LLMConfig, files: dict[str, str]
) -> tuple[list[ConfigIssue], int]:
    """Issues where `after` routes differently from `before` (reported at `files[name]`, the
    group's or pool's file), and the number of routes and pools compared."""
    issues: list[ConfigIssue] = []
    old, new = routes(before), routes(after)
    compared = 0
    for group, starts in old.items():
        for start, route in starts.items():
            compared += 1
            later = new.get(group, {}).get(start)
            changed = _changes(vars(route), vars(later) if later else {})
            if changed:
                issues.append(
                    ConfigIssue(
                        files.get(group, group),
                        "fallback_config",
                        f"calls to {start} would change: {changed}",
                    )
                )
    for pool, config in before.pools.items():
        compared += 1
        later = after.pools.get(pool)
        changed = _changes(config.model_dump(), later.model_dump() if later else {})
        if changed:
            issues.append(
                ConfigIssue(files.get(pool, pool), "", f"pool {pool!r} would change: {changed}")
            )
    return issues, compared


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`field old -> new` for each field that differs, or "" when none does."""
    return "; ".join(
        f"{field} {old[field]!r} -> {new.get(field)!r}"
        for field in old
        if old[field] != new.get(field)
    )
