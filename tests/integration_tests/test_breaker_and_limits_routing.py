"""Breakers, limits and the deadline seen through the wrapper, with time from a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.circuit_breaker import CircuitState
from infrastructure.llm.routing.history import FallbackHistory
from infrastructure.llm.sim import FaultMode
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model, write_config
from routing_helpers import answer


def breaker_group(bad_url: str, good_url: str, **echelon1: Any) -> tuple[dict, dict]:
    models = {"bad": openai_model(bad_url), "good": openai_model(good_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["bad"], "max_retries": 0, **echelon1},
            "echelon2": {"models": ["good"]},
            "fallback_config": {
                "circuit_breaker": {
                    "failure_threshold": 2,
                    "recovery_time": 30,
                    "half_open_requests": 1,
                }
            },
        }
    }
    return models, groups


def test_breaker_opens_then_half_opens_then_closes(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    manager = manager_for(*breaker_group(bad.base_url, good.base_url))
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)
    breaker = manager.target("g", 1).members[0].breaker

    answer(wrapper, "invoke")
    assert breaker.state is CircuitState.CLOSED
    answer(wrapper, "invoke")
    assert breaker.state is CircuitState.OPEN
    assert bad.stats.requests == 2

    # Open: calls skip the bad instance without touching it.
    answer(wrapper, "invoke")
    assert bad.stats.requests == 2

    fake_clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    bad.set_fault(FaultMode.parse("healthy"))
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert routing["instance"] == "bad#0"  # the probe went through and succeeded
    assert breaker.state is CircuitState.CLOSED


def test_failed_probe_reopens_the_breaker(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    manager = manager_for(*breaker_group(bad.base_url, good.base_url))
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)
    breaker = manager.target("g", 1).members[0].breaker
    answer(wrapper, "invoke")
    answer(wrapper, "invoke")
    fake_clock.advance(30)
    answer(wrapper, "invoke")
    assert bad.stats.requests == 3
    assert breaker.state is CircuitState.OPEN
    assert breaker.snapshot()["seconds_until_half_open"] == pytest.approx(30)


def test_breaker_state_is_in_stats(start_sim: StartSim, manager_for: Any) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*breaker_group(bad.base_url, good.base_url))
    )
    answer(wrapper, "invoke")
    answer(wrapper, "invoke")
    breakers = wrapper.get_stats()["breakers"]
    assert breakers["g.echelon1"]["bad#0"]["state"] == "open"
    assert breakers["g.echelon2"]["good#0"]["state"] == "closed"


def test_concurrency_limit_spills_over_while_a_stream_holds_the_slot(
    start_sim: StartSim, manager_for: Any
) -> None:
    first, second = start_sim("healthy"), start_sim("healthy")
    models, groups = breaker_group(first.base_url, second.base_url)
    groups["g"]["echelon1"].update(concurrency_limit=1, spill_over=True)
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))

    stream = iter(wrapper.stream("hello there"))
    assert next(stream).response_metadata["routing"]["echelon"] == 1
    # The open stream holds echelon 1's only slot: this call spills over to echelon 2.
    assert wrapper.invoke("hi").response_metadata["routing"]["echelon"] == 2
    list(stream)
    assert wrapper.invoke("hi").response_metadata["routing"]["echelon"] == 1


def test_rpm_limit_waits_for_the_window_on_the_clock(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    sim = start_sim("healthy")
    models = {"m": openai_model(sim.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "rpm_limit": 2, "timeout": 90}}}
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    for _ in range(3):
        answer(wrapper, "invoke")
    # Two calls go at once; the third waits (in fake time) until the first is a minute old.
    assert sum(fake_clock.sleeps) == pytest.approx(60, abs=0.5)
    assert sim.stats.completed == 3


def test_rpm_limit_without_time_to_wait_falls_back(start_sim: StartSim, manager_for: Any) -> None:
    first, second = start_sim("healthy"), start_sim("healthy")
    models, groups = breaker_group(first.base_url, second.base_url)
    groups["g"]["echelon1"].update(rpm_limit=1, timeout=5)
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    assert wrapper.invoke("a").response_metadata["routing"]["echelon"] == 1
    assert wrapper.invoke("b").response_metadata["routing"]["echelon"] == 2
    assert wrapper.get_fallback_history()[-1]["error_type"] == "NoCapacityError"


def test_deadline_with_nothing_left_is_a_clear_error(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models, groups = breaker_group(bad.base_url, good.base_url)
    groups["g"]["fallback_config"]["deadline"] = 5
    groups["g"]["fallback_config"]["retry_delay"] = 5
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    with pytest.raises(AllTargetsFailedError, match="DeadlineExceededError"):
        wrapper.invoke("hi")
    assert good.stats.requests == 0


def test_deadline_stops_retries_from_multiplying(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models, groups = breaker_group(bad.base_url, good.base_url)
    groups["g"]["echelon1"]["max_retries"] = 50
    groups["g"]["fallback_config"]["circuit_breaker"]["failure_threshold"] = 1000
    groups["g"]["fallback_config"]["deadline"] = 3
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    routing = wrapper.invoke("hi").response_metadata["routing"]
    # Backoff stopped retrying echelon 1 before the 3 s budget ran out instead of running
    # 50 retries, and what was left of the budget went to echelon 2.
    assert routing["echelon"] == 2
    assert 0 < sum(fake_clock.sleeps) <= 3
    assert 1 < bad.stats.requests < 50


def test_fallback_history_is_bounded(start_sim: StartSim, manager_for: Any) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models, groups = breaker_group(bad.base_url, good.base_url)
    groups["g"]["fallback_config"]["circuit_breaker"]["failure_threshold"] = 1000
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    wrapper._router.history = FallbackHistory(3)
    for _ in range(5):
        answer(wrapper, "invoke")
    history = wrapper.get_fallback_history()
    assert len(history) == 3
    assert history[-1]["from_target"] == "g.echelon1"
    assert history[-1]["to_target"] == "g.echelon2"
    assert history[-1]["error_type"] in ("OpenAIAPIError", "InternalServerError")


def test_concurrent_async_calls_share_the_concurrency_limit(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = start_sim("slow:0.05")
    models = {"m": openai_model(sim.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "concurrency_limit": 2, "timeout": 10}}}
    # Waiting for a slot takes real time here, so this manager keeps the real clock.
    manager = TaskGroupManager.from_config_dir(write_config(tmp_path, models, groups))
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)

    async def run() -> list[str]:
        replies = await asyncio.gather(*(wrapper.ainvoke(f"q{i}") for i in range(6)))
        return [str(r.content) for r in replies]

    assert len(asyncio.run(run())) == 6
    assert sim.stats.completed == 6
    assert sim.stats.peak_in_flight == 2
