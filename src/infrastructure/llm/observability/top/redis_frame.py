"""A frame from what the shared Redis state holds: breakers, cool-downs and health by
instance; slots taken and the rpm log's admissions by target.

Redis keeps no call counts, no latencies and no errors (only a breaker's consecutive
failures), so those figures stay None; calls per second come from the rpm log of targets
with an `rpm_limit`, averaged over its 60-second window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from infrastructure.llm.observability.top.rows import FlowRow, Frame, InstanceRow, uniform_or_each
from infrastructure.llm.redaction import redact
from infrastructure.llm.resilience.limits import RPM_WINDOW


def redis_frame(source: str, snapshot: Mapping[str, Any], instances: Iterable[str] = ()) -> Frame:
    """The frame of a shared-state `snapshot` (see `RedisState.snapshot`); `instances` are
    the configured ones, listed even when Redis holds nothing for them (closed and clean)."""
    return Frame(
        source=source,
        flow_label="TARGET",
        window_seconds=None,
        flows=tuple(_targets(snapshot)),
        instances=tuple(_instances(snapshot, instances)),
        notes=(
            "from Redis: no latency or error counts are kept there; calls/s only for targets "
            f"with an rpm_limit (admissions over the last {RPM_WINDOW:.0f} s)",
        ),
    )


def scope_and_instance(record_key: str) -> tuple[str, str]:
    """(group or pool, instance) of a breaker or health record key (`kind:scope:instance`)."""
    _, scope, instance = record_key.split(":", 2)
    return scope, instance


def _instances(snapshot: Mapping[str, Any], configured: Iterable[str]) -> Iterable[InstanceRow]:
    breakers: dict[str, dict[str, str]] = defaultdict(dict)
    failures: dict[str, int] = defaultdict(int)
    for key, breaker in snapshot["breakers"].items():
        group, instance = scope_and_instance(key)
        breakers[instance][group] = breaker["state"]
        failures[instance] = max(failures[instance], breaker["consecutive_failures"])
    health: dict[str, dict[str, str]] = defaultdict(dict)
    for key, verdict in snapshot["health"].items():
        pool, instance = scope_and_instance(key)
        health[instance][pool] = "healthy" if verdict["healthy"] else "unhealthy"
    cooldowns = {key.removeprefix("cooldown:"): left for key, left in snapshot["cooldowns"].items()}
    for name in sorted({*configured, *breakers, *health, *cooldowns}):
        yield InstanceRow(
            name=redact(name),
            # Redis deletes a breaker that is closed with no failures: no record means that.
            breaker=uniform_or_each(breakers[name]) or "closed",
            failures=failures[name],
            cooldown_seconds=cooldowns.get(name),
            health=uniform_or_each(health[name]),
        )


def _targets(snapshot: Mapping[str, Any]) -> Iterable[FlowRow]:
    slots = {key.removeprefix("limits:"): n for key, n in snapshot["slots"].items()}
    admitted = {key.removeprefix("limits:"): n for key, n in snapshot["rpm"].items()}
    for name in sorted(slots.keys() | admitted.keys()):
        rpm = admitted.get(name)
        yield FlowRow(
            name=redact(name),
            in_flight=slots.get(name),
            calls_per_second=None if rpm is None else rpm / RPM_WINDOW,
        )
