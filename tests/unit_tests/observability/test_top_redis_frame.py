"""The Redis view model: a shared-state snapshot gives each instance's breaker, failures,
cool-down and health, and each target's slots and rpm-log rate; no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.observability.top.redis_frame import redis_frame, scope_and_instance
from infrastructure.llm.observability.top.rows import FlowRow, InstanceRow


def snapshot(**kinds: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "status": "shared",
        "breakers": {},
        "cooldowns": {},
        "health": {},
        "slots": {},
        "rpm": {},
    }
    view.update(kinds)
    return view


def breaker(state: str, failures: int) -> dict[str, Any]:
    return {
        "state": state,
        "consecutive_failures": failures,
        "half_open_in_flight": 0,
        "seconds_until_half_open": 0.0,
    }


def test_instances_show_breaker_failures_cooldown_and_health() -> None:
    view = snapshot(
        breakers={"breaker:g:a#0": breaker("open", 3), "breaker:h:a#0": breaker("open", 1)},
        cooldowns={"cooldown:a#0": 4.5},
        health={"pool:p:a#0": {"healthy": False, "consecutive_failures": 2, "since": "x"}},
    )
    [row] = redis_frame("src", view).instances
    assert row == InstanceRow(
        name="a#0", breaker="open", failures=3, cooldown_seconds=4.5, health="unhealthy"
    )
    # Redis keeps no call counts, rates or errors.
    assert (row.calls, row.calls_per_second, row.errors, row.errors_per_second) == (None,) * 4


def test_states_that_differ_between_groups_and_pools_are_shown_each() -> None:
    view = snapshot(
        breakers={"breaker:g:a#0": breaker("open", 3), "breaker:h:a#0": breaker("half_open", 1)},
        health={
            "pool:p:a#0": {"healthy": False, "consecutive_failures": 2, "since": "x"},
            "pool:q:a#0": {"healthy": True, "consecutive_failures": 0, "since": "x"},
        },
    )
    [row] = redis_frame("src", view).instances
    assert row.breaker == "g open, h half_open"
    assert row.health == "p unhealthy, q healthy"


def test_configured_instances_without_records_are_closed_and_clean() -> None:
    view = snapshot(breakers={"breaker:g:a#0": breaker("open", 1)})
    rows = redis_frame("src", view, instances=["a#0", "b#0"]).instances
    assert [(r.name, r.breaker, r.failures) for r in rows] == [
        ("a#0", "open", 1),
        ("b#0", "closed", 0),
    ]


def test_targets_show_slots_in_flight_and_the_rpm_logs_rate() -> None:
    view = snapshot(
        slots={"limits:g.echelon1": 3, "limits:g.echelon2": 1},
        rpm={"limits:g.echelon2": 30, "limits:h.echelon1": 6},
    )
    assert redis_frame("src", view).flows == (
        FlowRow(name="g.echelon1", in_flight=3),
        FlowRow(name="g.echelon2", in_flight=1, calls_per_second=0.5),
        # an rpm log and no slots: its target may have no concurrency limit to count them
        FlowRow(name="h.echelon1", in_flight=None, calls_per_second=0.1),
    )


def test_the_frame_says_what_redis_cannot_tell() -> None:
    found = redis_frame("state: shared (redis://h:6379/0)", snapshot())
    assert (found.source, found.flow_label, found.window_seconds) == (
        "state: shared (redis://h:6379/0)",
        "TARGET",
        None,
    )
    assert "no latency or error counts" in found.notes[0]


@pytest.mark.parametrize(
    ("key", "parts"),
    [("breaker:g:a#0", ("g", "a#0")), ("pool:p:model:with:colons#1", ("p", "model:with:colons#1"))],
)
def test_record_keys_split_into_scope_and_instance(key: str, parts: tuple[str, str]) -> None:
    assert scope_and_instance(key) == parts
