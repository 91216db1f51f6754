"""Each attempt is timed by the driver that runs it, sync or async, and recorded with its
outcome; a call's statistics fold the times into per-instance histograms; a target counts the
attempts in flight on each instance. The attempt clock is a stand-in the attempts move."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience import time_limits
from infrastructure.llm.resilience.admission import Verdict
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import adrive, drive
from infrastructure.llm.routing.engine import end_stream, route
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.routing.plan import FallbackPlan
from infrastructure.llm.routing.stats import CallStats

from conftest import openai_model, write_config

# a#0 refuses the connection after half a second; a#1 answers after a quarter.
TAKES = {"a#0": 0.5, "a#1": 0.25}


class AttemptClock:
    """Stands in for `time` in the attempt limits: only attempts move it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def attempt_clock(monkeypatch: pytest.MonkeyPatch) -> AttemptClock:
    clock = AttemptClock()
    monkeypatch.setattr(time_limits, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


@pytest.fixture
def plan(tmp_path: Path) -> FallbackPlan:
    """g.echelon1 over model `a`: instances a#0 then a#1 in round-robin order."""
    models = {"a": openai_model("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")}
    directory = write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["a"]}}})
    manager = TaskGroupManager.from_config_dir(directory, clock=FakeClock())
    return EnhancedFallbackManager(manager).plan("g")


def the_attempt(clock: AttemptClock, in_flight: list[dict[str, int]], plan: FallbackPlan) -> Any:
    """An attempt that takes its instance's time, noting the target's attempts in flight."""

    def attempt(member: Member) -> str:
        in_flight.append(plan.stages[0].candidates.in_flight())
        clock.now += TAKES[member.instance.id]
        if member.instance.id == "a#0":
            raise ConnectionRefusedError("connection refused")
        return "the answer"

    return attempt


EXPECTED = [("a#0", "retryable", 0.5), ("a#1", "ok", 0.25)]


def test_the_sync_driver_times_each_attempt(
    plan: FallbackPlan, attempt_clock: AttemptClock
) -> None:
    call = CallRecord(Deadline(FakeClock(), plan.deadline))
    in_flight: list[dict[str, int]] = []
    served = drive(
        route(plan, call, False),
        InMemoryState(),
        FakeClock(),
        the_attempt(attempt_clock, in_flight, plan),
    )
    assert served.value == "the answer"
    assert call.instance_outcomes == EXPECTED
    assert in_flight == [{"a#0": 1, "a#1": 0}, {"a#0": 0, "a#1": 1}]
    assert plan.stages[0].candidates.in_flight() == {"a#0": 0, "a#1": 0}


def test_the_async_driver_times_each_attempt(
    plan: FallbackPlan, attempt_clock: AttemptClock
) -> None:
    call = CallRecord(Deadline(FakeClock(), plan.deadline))
    in_flight: list[dict[str, int]] = []
    sync_attempt = the_attempt(attempt_clock, in_flight, plan)

    async def attempt(member: Member) -> str:
        return sync_attempt(member)  # type: ignore[no-any-return]

    served = asyncio.run(adrive(route(plan, call, False), InMemoryState(), FakeClock(), attempt))
    assert served.value == "the answer"
    assert call.instance_outcomes == EXPECTED
    assert in_flight == [{"a#0": 1, "a#1": 0}, {"a#0": 0, "a#1": 1}]


def test_a_stream_stays_in_flight_on_its_instance_until_it_ends(
    plan: FallbackPlan, attempt_clock: AttemptClock
) -> None:
    state, clock = InMemoryState(), FakeClock()
    call = CallRecord(Deadline(clock, plan.deadline))
    served = drive(route(plan, call, True), state, clock, the_attempt(attempt_clock, [], plan))
    target = plan.stages[0].candidates
    assert target.in_flight() == {"a#0": 0, "a#1": 1}
    drive(end_stream(served, Verdict.STREAM_ENDED), state, clock)
    assert target.in_flight() == {"a#0": 0, "a#1": 0}


def test_call_stats_fold_attempt_times_by_instance_ok_or_error() -> None:
    stats = CallStats()
    for outcomes in (EXPECTED, [("a#1", "ok", 3.0), ("a#0", "timeout", 30.0)]):
        call = CallRecord(Deadline(FakeClock(), 60.0))
        call.instance_outcomes = list(outcomes)
        stats.started()
        stats.record(call, ok=True, latency=1.0, usage=None)
    seen = stats.for_metrics()
    assert seen["attempts"] == {
        ("a#0", "retryable"): 1,
        ("a#0", "timeout"): 1,
        ("a#1", "ok"): 2,
    }
    durations = seen["attempt_seconds"]
    assert set(durations) == {("a#0", "error"), ("a#1", "ok")}
    buckets, total = durations[("a#1", "ok")]
    assert total == pytest.approx(3.25)
    assert dict(buckets)["0.25"] == 1 and dict(buckets)["5.0"] == 2 and dict(buckets)["+Inf"] == 2
    buckets, total = durations[("a#0", "error")]
    assert total == pytest.approx(30.5)
    assert dict(buckets)["0.5"] == 1 and dict(buckets)["30.0"] == 2
    stats.reset()
    assert stats.for_metrics()["attempt_seconds"] == {}
