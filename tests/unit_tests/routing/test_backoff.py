"""Per-echelon retry backoff: the delays it computes, and the pauses the engine takes from it.

No test sleeps: jitter comes from an injected random source, pauses from a FakeClock.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from tenacity import RetryCallState, wait_exponential

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config.schema import BackoffConfig
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.backoff import Backoff
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.drivers import drive
from infrastructure.llm.routing.engine import route
from infrastructure.llm.routing.fallback import EnhancedFallbackManager

from conftest import openai_model, write_config

# The settings docs/porting.md gives for the seeds' clients.
SEED_000 = {"initial": 2, "maximum": 10, "multiplier": 2, "jitter": 0}
SEED_001 = {"initial": 1, "maximum": 16, "multiplier": 2, "jitter": 0}


class HighestDraw:
    """A random source whose every uniform draw is the top of its range."""

    def uniform(self, low: float, high: float) -> float:
        return high


def delays(settings: dict[str, float], count: int, rng: Any = None) -> list[float]:
    backoff = Backoff(BackoffConfig(**settings), rng)
    return [backoff.delay(attempts) for attempts in range(1, count + 1)]


def test_seed_000_settings_wait_2_then_double_up_to_10_seconds() -> None:
    assert delays(SEED_000, 5) == [2, 4, 8, 10, 10]


def test_seed_001_settings_wait_1_2_4_8_16_seconds() -> None:
    assert delays(SEED_001, 5) == [1, 2, 4, 8, 16]


def test_the_default_is_todays_quarter_second_doubling_to_8_plus_jitter() -> None:
    assert delays({}, 7, HighestDraw()) == [0.5, 0.75, 1.25, 2.25, 4.25, 8.25, 8.25]


def test_jitter_is_drawn_from_the_injected_random_source() -> None:
    settings = {"initial": 1, "multiplier": 3, "maximum": 100, "jitter": 0.5}
    expected_draws = random.Random(7)
    expected = [1 + expected_draws.uniform(0, 0.5), 3 + expected_draws.uniform(0, 0.5)]
    assert delays(settings, 2, random.Random(7)) == expected


def test_a_multiplier_of_one_waits_the_same_each_time() -> None:
    assert delays({"initial": 3, "multiplier": 1, "jitter": 0}, 4) == [3, 3, 3, 3]


def test_a_huge_attempt_count_is_capped_not_an_overflow() -> None:
    backoff = Backoff(BackoffConfig(initial=1, maximum=30, multiplier=10, jitter=0))
    assert backoff.delay(10_000) == 30


def pauses_of_a_dead_instance(
    tmp_path: Path, clock: FakeClock, backoff: dict[str, float], max_retries: int
) -> list[float]:
    """Route one call to a group whose one instance refuses every attempt; return the
    pauses the engine took (on the fake clock) before it gave up."""
    models = {"solo": openai_model("http://127.0.0.1:9/v1")}
    group = {
        "echelon1": {"models": ["solo"], "max_retries": max_retries, "backoff": backoff},
        "fallback_config": {"deadline": 1000, "circuit_breaker": {"failure_threshold": 50}},
    }
    directory = write_config(tmp_path / "llms", models, {"g": group})
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    plan = EnhancedFallbackManager(manager).plan("g")
    attempts: list[str] = []

    def attempt(member: Any) -> str:
        attempts.append(member.instance.id)
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(AllTargetsFailedError):
        drive(
            route(plan, CallRecord(Deadline(clock, plan.deadline)), False),
            InMemoryState(),
            clock,
            attempt,
        )
    assert attempts == ["solo#0"] * (max_retries + 1)
    return clock.sleeps


def test_the_engine_pauses_as_seed_001_between_retries(tmp_path: Path) -> None:
    assert pauses_of_a_dead_instance(tmp_path, FakeClock(), SEED_001, 5) == [1, 2, 4, 8, 16]


def test_the_engine_pauses_as_seed_000_between_retries(tmp_path: Path) -> None:
    assert pauses_of_a_dead_instance(tmp_path, FakeClock(), SEED_000, 2) == [2, 4]


def test_a_server_retry_after_longer_than_the_backoff_wins(tmp_path: Path) -> None:
    models = {"solo": openai_model("http://127.0.0.1:9/v1")}
    group = {"echelon1": {"models": ["solo"], "max_retries": 1, "backoff": SEED_001}}
    directory = write_config(tmp_path / "llms", models, {"g": group})
    clock = FakeClock()
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    plan = EnhancedFallbackManager(manager).plan("g")
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx.Response(429, headers={"retry-after": "7"}, request=request)

    def attempt(member: Any) -> str:
        if not clock.sleeps:
            raise openai.RateLimitError("slow down", response=response, body=None)
        return "answer"

    call = CallRecord(Deadline(clock, plan.deadline))
    served = drive(route(plan, call, False), InMemoryState(), clock, attempt)
    assert served.value == "answer"
    assert clock.sleeps == [7]  # the server's 7 s, not the backoff's 1 s


def test_seed_000s_literal_tenacity_waits_are_reproduced_for_its_three_attempts() -> None:
    """docs/porting.md: `wait_exponential(multiplier=1, min=2, max=10)` waits 2, 2, 4, 8, 10
    s; seed 000's 3 attempts use the first two, which initial 2, maximum 2, multiplier 1 gives."""
    tenacity_wait = wait_exponential(multiplier=1, min=2, max=10)
    seeds = []
    for attempts in range(1, 6):
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts
        seeds.append(tenacity_wait(state))
    assert seeds == [2, 2, 4, 8, 10]
    exact = {"initial": 2, "maximum": 2, "multiplier": 1, "jitter": 0}
    assert delays(exact, 2) == seeds[:2]
