"""A 200 that is no chat completion is the instance's fault: retried on another instance,
counted against its breaker and reported truthfully in stats."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.errors import AllTargetsFailedError, InvalidResponseError
from infrastructure.llm.resilience.records import CircuitState
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer

JUNK = ("html", "no_choices", "bad_json", "empty_stream")


def junk_then_healthy(manager_for: Any, junk_url: str, healthy_url: str) -> TaskGroupWrapper:
    models = {"m": openai_model(junk_url, healthy_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["m"], "max_retries": 1},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 2}},
        }
    }
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))


@pytest.mark.parametrize("mode", CALL_MODES)
@pytest.mark.parametrize("junk", JUNK)
def test_a_junk_answer_fails_over_and_counts_against_the_instance(
    junk: str, mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim(junk), start_sim("healthy")
    wrapper = junk_then_healthy(manager_for, bad.base_url, good.base_url)
    assert answer(wrapper, mode, "hi") == "Simulated reply to: hi"
    stats = wrapper.get_stats()
    assert (stats["successful_requests"], stats["failed_requests"]) == (1, 0)
    assert stats["per_instance"]["m#0"] == {"requests": 1, "failures": 1, "error_rate": 1.0}
    assert stats["breakers"]["g.echelon1"]["m#0"]["consecutive_failures"] == 1


@pytest.mark.parametrize("junk", JUNK)
def test_a_junk_instance_is_taken_out_by_its_breaker(
    junk: str, start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim(junk), start_sim("healthy")
    wrapper = junk_then_healthy(manager_for, bad.base_url, good.base_url)
    for _ in range(10):
        assert answer(wrapper, "invoke", "hi") == "Simulated reply to: hi"
    breaker = wrapper.plan.targets[0].members[0].breaker
    assert breaker.state is CircuitState.OPEN
    # Two junk answers opened it; after that the junk instance drew no more calls.
    assert bad.stats.junk == 2


@pytest.mark.parametrize("mode", CALL_MODES)
def test_when_only_junk_comes_back_the_error_says_so(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("no_choices"), start_sim("html")]
    wrapper = junk_then_healthy(manager_for, sims[0].base_url, sims[1].base_url)
    with pytest.raises(AllTargetsFailedError) as failed:
        answer(wrapper, mode, "hi")
    assert isinstance(failed.value.last_error, InvalidResponseError)
    assert "not a chat completion" in str(failed.value) or "without a single chunk" in str(
        failed.value
    )
    assert wrapper.get_stats()["failed_requests"] == 1
