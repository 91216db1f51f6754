"""The routing engine without I/O: each test plays the driver by hand, step by step.

The engine yields what to do (admit, attempt, settle, pause); the test answers as the state
and the instances would, and checks what the engine decides next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.errors import AllTargetsFailedError, CircuitOpenError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.admission import FREE_TICKET, Reason, Refusal, Verdict
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import drive
from infrastructure.llm.routing.engine import Served, route
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.routing.plan import FallbackPlan
from infrastructure.llm.routing.steps import Admit, Attempt, Pause, Settle

from conftest import openai_model, write_config

URLS = ("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")


def refused_connection() -> ConnectionRefusedError:
    return ConnectionRefusedError("connection refused")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def plan_for(
    tmp_path: Path, clock: FakeClock, *groups: tuple[str, dict[str, Any]], target: str = "g"
) -> FallbackPlan:
    """The plan of `target` over groups whose echelons use models `a` (2 instances), `b`."""
    models = {"a": openai_model(*URLS), "b": openai_model(URLS[0])}
    directory = write_config(tmp_path / "llms", models, dict(groups))
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    return EnhancedFallbackManager(manager).plan(target)


def start(plan: FallbackPlan, clock: FakeClock, streaming: bool = False) -> tuple[Any, CallRecord]:
    call = CallRecord(Deadline(clock, plan.deadline))
    return route(plan, call, streaming), call


def test_a_call_that_answers_is_admit_attempt_settle(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["a"], "timeout": 7}}))
    steps, call = start(plan, clock)
    admit = next(steps)
    assert isinstance(admit, Admit)
    attempt = steps.send(FREE_TICKET)
    assert isinstance(attempt, Attempt)
    assert (attempt.member.instance.id, attempt.limit.timeout) == ("a#0", 7)
    settle = steps.send("the answer")
    assert isinstance(settle, Settle) and settle.verdict is Verdict.ANSWERED
    with pytest.raises(StopIteration) as done:
        steps.send(None)
    served = done.value.value
    assert isinstance(served, Served)
    assert (served.value, served.member.instance.id) == ("the answer", "a#0")
    # No driver ran the attempt here, so none timed it: 0 seconds.
    assert (call.attempts, call.retries, call.instance_outcomes) == (1, 0, [("a#0", "ok", 0.0)])


def test_a_stream_keeps_its_slot_after_the_first_chunk(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["a"]}}))
    steps, _ = start(plan, clock, streaming=True)
    next(steps)
    steps.send(FREE_TICKET)
    settle = steps.send("first chunk")
    assert settle.verdict is Verdict.STREAM_OPENED


def test_a_failure_moves_to_an_untried_instance_at_once(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["a"]}}))
    steps, call = start(plan, clock)
    next(steps)
    first = steps.send(FREE_TICKET)
    settle = steps.throw(refused_connection())
    assert isinstance(settle, Settle) and settle.verdict is Verdict.FAILED
    admit = steps.send(None)
    assert isinstance(admit, Admit)  # no pause: another instance is free
    second = steps.send(FREE_TICKET)
    assert isinstance(second, Attempt)
    assert {first.member.instance.id, second.member.instance.id} == {"a#0", "a#1"}
    assert call.retries == 1


def test_with_no_untried_instance_the_retry_backs_off(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["b"], "max_retries": 1}}))
    steps, _ = start(plan, clock)
    next(steps)
    steps.send(FREE_TICKET)
    steps.throw(refused_connection())
    pause = steps.send(None)
    assert isinstance(pause, Pause)
    assert 0.25 <= pause.seconds <= 0.5  # first backoff step, with up to 0.25 s of jitter
    assert isinstance(steps.send(None), Admit)


def test_a_request_the_model_rejects_ends_the_call(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(
        tmp_path,
        clock,
        ("g", {"echelon1": {"models": ["a"]}, "echelon2": {"models": ["b"]}}),
    )
    steps, call = start(plan, clock)
    next(steps)
    steps.send(FREE_TICKET)
    settle = steps.throw(ValueError("the request is malformed"))
    assert settle.verdict is Verdict.ANSWERED  # the instance answered; the request was bad
    with pytest.raises(ValueError, match="malformed"):
        steps.send(None)
    assert call.fallbacks == 0


def test_a_spent_echelon_hops_to_the_next_and_records_the_hop(
    tmp_path: Path, clock: FakeClock
) -> None:
    group = {
        "echelon1": {"models": ["b"], "max_retries": 0},
        "echelon2": {"models": ["a"]},
        "fallback_config": {"retry_delay": 0.5},
    }
    plan = plan_for(tmp_path, clock, ("g", group))
    steps, call = start(plan, clock)
    next(steps)
    steps.send(FREE_TICKET)
    steps.throw(refused_connection())
    pause = steps.send(None)
    assert isinstance(pause, Pause) and pause.seconds == 0.5  # retry_delay between targets
    admit = steps.send(None)
    attempt = steps.send(FREE_TICKET)
    assert attempt.member.echelon.name == "g.echelon2"
    assert isinstance(admit, Admit)
    [hop] = call.hops
    assert (hop.from_target, hop.to_target, hop.error_type) == (
        "g.echelon1",
        "g.echelon2",
        "ConnectionRefusedError",
    )


def test_refused_instances_are_passed_over_then_reported(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["a"]}}))
    steps, call = start(plan, clock)
    next(steps)
    steps.send(Refusal(Reason.OPEN))
    with pytest.raises(AllTargetsFailedError) as failed:
        steps.send(Refusal(Reason.COOLING_DOWN))
    assert isinstance(failed.value.last_error, CircuitOpenError)
    assert "open" in str(failed.value) and "cooling down" in str(failed.value)
    assert call.attempts == 0


def test_full_limits_wait_with_pauses_until_room(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["b"], "rpm_limit": 60}}))
    steps, _ = start(plan, clock)
    next(steps)
    pause = steps.send(Refusal(Reason.FULL, wait=0.75))
    assert isinstance(pause, Pause) and pause.seconds == 0.75  # exactly until the next token
    assert isinstance(steps.send(None), Admit)


def test_the_sync_driver_runs_the_same_decisions(tmp_path: Path, clock: FakeClock) -> None:
    plan = plan_for(tmp_path, clock, ("g", {"echelon1": {"models": ["a"]}}))
    answers: list[str] = []

    def attempt(member: Any) -> str:
        answers.append(member.instance.id)
        if len(answers) == 1:
            raise refused_connection()
        return f"answer from {member.instance.id}"

    call = CallRecord(Deadline(clock, plan.deadline))
    served = drive(route(plan, call, False), InMemoryState(), clock, attempt)
    assert served.value == f"answer from {answers[1]}"
    assert clock.sleeps == []  # the retry went to the other instance without waiting
