"""Routing errors say what happened: which limit ran out, when refused instances come back,
and each failure once, under the instance that failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.errors import AllTargetsFailedError, InvalidResponseError, NoCapacityError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.limits import CapacityWait, Limits
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import drive
from infrastructure.llm.routing.engine import route
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.routing.plan import FallbackPlan

from conftest import openai_model, write_config

URLS = ("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")
REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state() -> InMemoryState:
    return InMemoryState()


def plan_for(
    tmp_path: Path,
    clock: FakeClock,
    echelon: dict[str, Any],
    **group: Any,
) -> FallbackPlan:
    """Task group `g` with one echelon over model `a` (two instances)."""
    directory = write_config(
        tmp_path / "llms",
        {"a": openai_model(*URLS)},
        {"g": {"echelon1": {"models": ["a"], **echelon}, **group}},
    )
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    return EnhancedFallbackManager(manager).plan("g")


def fail_call(plan: FallbackPlan, state: InMemoryState, clock: FakeClock, error: Any) -> str:
    """Route one call whose every attempt raises `error()`; the final error's message."""

    def attempt(member: Any) -> Any:
        raise error()

    call = CallRecord(Deadline(clock, plan.deadline))
    with pytest.raises(AllTargetsFailedError) as failed:
        drive(route(plan, call, False), state, clock, attempt)
    return str(failed.value)


def test_a_client_timeout_names_the_time_the_attempt_had(
    tmp_path: Path, clock: FakeClock, state: InMemoryState
) -> None:
    plan = plan_for(tmp_path, clock, {"timeout": 7, "max_retries": 0})
    message = fail_call(plan, state, clock, lambda: openai.APITimeoutError(REQUEST))
    assert (
        "a#0: AttemptTimeoutError: no answer within 7s (APITimeoutError: Request timed out.)"
        in (message)
    )


def test_a_call_stopped_by_its_deadline_says_so_and_one_that_ran_its_attempts_does_not(
    tmp_path: Path, clock: FakeClock, state: InMemoryState
) -> None:
    def refused() -> ConnectionRefusedError:
        clock.advance(0.4)  # each attempt takes 0.4 s of the call's 1 s
        return ConnectionRefusedError("connection refused")

    plan = plan_for(tmp_path, clock, {"max_retries": 5}, fallback_config={"deadline": 1})
    message = fail_call(plan, state, clock, refused)
    assert message.startswith("g: no target answered in 2 attempts (targets g.echelon1); ")
    assert "the call's deadline of 1s left no time for more: a#0: " in message

    plan = plan_for(
        tmp_path / "roomy", clock, {"max_retries": 1}, fallback_config={"deadline": 100}
    )
    message = fail_call(plan, InMemoryState(), clock, refused)
    assert message.startswith("g: no target answered in 2 attempts (targets g.echelon1): a#")
    assert "deadline" not in message


def test_each_failure_names_its_instance_once(
    tmp_path: Path, clock: FakeClock, state: InMemoryState
) -> None:
    plan = plan_for(tmp_path, clock, {"max_retries": 0})
    message = fail_call(plan, state, clock, lambda: InvalidResponseError("a#0: an HTML page"))
    assert message.endswith(": a#0: InvalidResponseError: an HTML page")


def test_refused_instances_say_when_they_come_back(
    tmp_path: Path, clock: FakeClock, state: InMemoryState
) -> None:
    breaker = {"circuit_breaker": {"failure_threshold": 1, "recovery_time": 30}}
    plan = plan_for(tmp_path, clock, {"max_retries": 1}, fallback_config=breaker)
    fail_call(plan, state, clock, lambda: ConnectionRefusedError("connection refused"))
    clock.advance(10)
    message = fail_call(plan, state, clock, lambda: AssertionError("no attempt may start"))
    assert message.endswith(
        "(targets g.echelon1): g.echelon1: CircuitOpenError: no instance can take a call now "
        "(a#1: breaker open, half-open in 20.0s; a#0: breaker open, half-open in 20.0s)"
    )
    clock.advance(5)  # the refused instances are on the bench now: not even asked
    message = fail_call(plan, state, clock, lambda: AssertionError("no attempt may start"))
    assert message == (
        "g: no target could take the call (targets g.echelon1): g.echelon1: CircuitOpenError: "
        "no instance can take a call now (2 instances out after an open breaker or a "
        "cool-down, the first back in 15.0s)"
    )


def test_a_cool_down_is_named_with_its_time_left(
    tmp_path: Path, clock: FakeClock, state: InMemoryState
) -> None:
    def unauthorized() -> openai.AuthenticationError:
        response = httpx.Response(401, request=REQUEST)
        return openai.AuthenticationError("Unauthorized", response=response, body=None)

    breaker = {"circuit_breaker": {"recovery_time": 60}}
    plan = plan_for(tmp_path, clock, {"max_retries": 1}, fallback_config=breaker)
    fail_call(plan, state, clock, unauthorized)
    clock.advance(15)
    message = fail_call(plan, state, clock, lambda: AssertionError("no attempt may start"))
    assert "(a#1: cooling down for 45.0s more; a#0: cooling down for 45.0s more)" in message


def test_a_full_limit_is_named_by_its_target_and_says_which_wait_ran_out() -> None:
    limits = Limits("limits:g.echelon1", concurrency_limit=2, rpm_limit=60)
    wait = CapacityWait(limits, now=0.0, until=0.5)
    with pytest.raises(NoCapacityError) as full:
        wait.pause(0.5, rate_wait=0.0)
    assert str(full.value) == (
        "g.echelon1: concurrency limit 2 reached and no slot came free in the 0.50s this "
        "attempt could wait"
    )
    with pytest.raises(NoCapacityError) as no_token:
        CapacityWait(limits, now=0.0, until=0.5).pause(0.2, rate_wait=0.9)
    assert str(no_token.value) == (
        "g.echelon1: rpm limit 60 reached; the next call is allowed in 0.90s, later than "
        "this attempt may wait (0.30s)"
    )
