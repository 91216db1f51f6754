"""One frame of `llm-wrappers top`: rows of figures, None where the source cannot tell."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FlowRow:
    """Calls through one wrapper (metrics) or one target's limits (Redis)."""

    name: str
    in_flight: int | None = None
    calls: int | None = None
    calls_per_second: float | None = None
    p95_seconds: float | None = None
    errors: int | None = None
    errors_per_second: float | None = None


@dataclass(frozen=True)
class InstanceRow:
    """One instance: its breaker and, as far as the source knows, its attempts and errors.

    `breaker` is `closed`, `half_open` or `open` (per target or group when they differ);
    `failures` are consecutive, `cooldown_seconds` what is left of a cool-down; `in_flight`
    counts attempts admitted and not ended, `p95_seconds` is over its answered attempts.
    """

    name: str
    breaker: str | None = None
    failures: int | None = None
    cooldown_seconds: float | None = None
    health: str | None = None
    in_flight: int | None = None
    calls: int | None = None
    calls_per_second: float | None = None
    p95_seconds: float | None = None
    errors: int | None = None
    errors_per_second: float | None = None
    top_error: str | None = None


@dataclass(frozen=True)
class Frame:
    """What one refresh shows: where it came from, the window its rates cover (None: the
    figures are cumulative), the flows and the instances, and lines of notes."""

    source: str
    flow_label: str
    window_seconds: float | None
    flows: tuple[FlowRow, ...]
    instances: tuple[InstanceRow, ...]
    notes: tuple[str, ...] = field(default=())


def uniform_or_each(by_scope: dict[str, str]) -> str | None:
    """One value when every scope (target, group, pool) agrees, else `scope value` pairs;
    None for no scope."""
    values = set(by_scope.values())
    if len(values) <= 1:
        return next(iter(values), None)
    return ", ".join(f"{scope} {value}" for scope, value in sorted(by_scope.items()))
