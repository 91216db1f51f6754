"""Every simulator fault mode, through real ChatOpenAI over HTTP, in all four call modes.

Echelon 1 is the faulty instance, echelon 2 a healthy one: the call must come back with the
healthy instance's answer and say so in `response_metadata["routing"]`.
"""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.errors import AllTargetsFailedError, StreamInterruptedError
from infrastructure.llm.sim import FaultMode
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer

FAULTS = ["error_rate:1.0", "rate_limit:2", "hang", "slow:3", "refuse", "cut_stream:0"]
EXPECTED = "Simulated reply to: hello there"


def two_echelons(bad_url: str, good_url: str, **echelon1: Any) -> tuple[dict, dict]:
    models = {"bad": openai_model(bad_url), "good": openai_model(good_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["bad"], "timeout": 0.5, "max_retries": 0, **echelon1},
            "echelon2": {"models": ["good"], "timeout": 5},
        }
    }
    return models, groups


def last_routing(wrapper: TaskGroupWrapper, mode: str) -> dict[str, Any]:
    """Call once more by `mode` and return the routing metadata of the answer."""
    if mode in ("invoke", "ainvoke"):
        return wrapper.invoke("hello there").response_metadata["routing"]
    first = next(iter(wrapper.stream("hello there")))
    return first.response_metadata["routing"]


@pytest.mark.parametrize("mode", CALL_MODES)
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_in_first_echelon_is_recovered_by_the_second(
    fault: str, mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim(fault), start_sim("healthy")
    manager = manager_for(*two_echelons(bad.base_url, good.base_url))
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)

    assert answer(wrapper, mode) == EXPECTED

    stats = wrapper.get_stats()
    assert stats["successful_requests"] == 1
    assert stats["fallbacks"] == 1
    assert stats["per_instance"]["bad#0"]["failures"] == 1
    assert good.stats.completed == 1
    if fault != "refuse":
        assert bad.stats.requests == 1


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_routing_metadata_names_what_served(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    wrapper = TaskGroupWrapper(
        name="w",
        target="g",
        task_group_manager=manager_for(*two_echelons(bad.base_url, good.base_url)),
    )
    routing = last_routing(wrapper, mode)
    assert routing["wrapper"] == "w"
    assert routing["group"] == "g"
    assert routing["echelon"] == 2
    assert routing["model"] == "good"
    assert routing["instance"] == "good#0"
    assert routing["attempts"] == 2
    assert routing["fallbacks"] == 1


@pytest.mark.parametrize("mode", CALL_MODES)
def test_failure_rotates_to_another_instance_of_the_same_echelon(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models = {"fleet": openai_model(bad.base_url, good.base_url)}
    groups = {"g": {"echelon1": {"models": ["fleet"], "max_retries": 2}}}
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    for _ in range(4):
        assert answer(wrapper, mode) == EXPECTED
    stats = wrapper.get_stats()
    assert stats["fallbacks"] == 0
    assert stats["successful_requests"] == 4
    assert good.stats.completed == 4


def test_flaky_instance_at_thirty_percent_never_reaches_the_caller(
    start_sim: StartSim, manager_for: Any
) -> None:
    flaky, good = start_sim(FaultMode("error_rate", error_rate=0.3, seed=7)), start_sim("healthy")
    models = {"fleet": openai_model(flaky.base_url, good.base_url)}
    groups = {"g": {"echelon1": {"models": ["fleet"], "max_retries": 2}}}
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    for _ in range(40):
        assert answer(wrapper, "invoke") == EXPECTED
    assert flaky.stats.errors_sent > 0
    assert wrapper.get_stats()["failed_requests"] == 0


def test_rate_limited_instance_cools_down_for_its_retry_after(
    start_sim: StartSim, manager_for: Any, fake_clock: Any
) -> None:
    limited, good = start_sim("rate_limit:7"), start_sim("healthy")
    models = {"fleet": openai_model(limited.base_url, good.base_url)}
    groups = {"g": {"echelon1": {"models": ["fleet"], "max_retries": 2}}}
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    for _ in range(5):
        assert answer(wrapper, "invoke") == EXPECTED
    # Retry-After: 7 keeps the limited instance out of rotation after its first 429.
    assert limited.stats.requests == 1
    fake_clock.advance(7.5)
    for _ in range(2):
        answer(wrapper, "invoke")
    assert limited.stats.requests == 2


def test_hung_instance_is_abandoned_at_the_echelon_timeout(
    start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim("hang"), start_sim("healthy")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_echelons(bad.base_url, good.base_url))
    )
    assert answer(wrapper, "ainvoke") == EXPECTED
    # The client gave up on the hung request: the simulator saw the connection go away.
    assert bad.wait_for(lambda s: s.cancelled == 1).cancelled == 1


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_stream_cut_after_output_raises_with_the_partial_text(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    cut, good = start_sim("cut_stream:3"), start_sim("healthy")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_echelons(cut.base_url, good.base_url))
    )
    with pytest.raises(StreamInterruptedError) as caught:
        answer(wrapper, mode)
    assert caught.value.partial_text == "Simulated reply to: "
    assert good.stats.requests == 0
    stats = wrapper.get_stats()
    assert stats["failed_requests"] == 1


@pytest.mark.parametrize("mode", CALL_MODES)
def test_all_targets_down_is_one_clear_error(
    mode: str, dead_url: str, start_sim: StartSim, manager_for: Any
) -> None:
    broken = start_sim("error_rate:1.0")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_echelons(dead_url, broken.base_url))
    )
    with pytest.raises(AllTargetsFailedError) as caught:
        answer(wrapper, mode)
    message = str(caught.value)
    assert "g.echelon1" in message and "g.echelon2" in message
    assert "bad#0: APIConnectionError" in message or "bad#0: OpenAIConnectionError" in message
    assert "good#0" in message
    assert "sk-test-secret" not in message
    assert wrapper.get_stats()["failed_requests"] == 1


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_first_chunk_timeout_fails_a_slow_stream_over(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    # Echelon 1 would answer within its 30 s timeout, but not within 0.3 s to a first chunk.
    slow, good = start_sim("slow:2"), start_sim("healthy")
    models, groups = two_echelons(slow.base_url, good.base_url, timeout=30, first_chunk_timeout=0.3)
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    assert answer(wrapper, mode) == EXPECTED
    assert wrapper.get_fallback_history()[-1]["to_target"] == "g.echelon2"
    assert wrapper.get_stats()["fallbacks"] == 1
    assert slow.wait_for(lambda s: s.cancelled == 1).cancelled == 1


def test_task_group_switch_goes_straight_to_the_fallback_group(
    start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models = {"bad": openai_model(bad.base_url), "good": openai_model(good.base_url)}
    groups = {
        "primary": {
            "echelon1": {"models": ["bad"], "max_retries": 0},
            "echelon2": {"models": ["bad"], "max_retries": 0},
            "fallback_config": {"strategy": "task_group_switch", "fallback_groups": ["backup"]},
        },
        "backup": {"echelon1": {"models": ["good"]}},
    }
    wrapper = TaskGroupWrapper(target="primary", task_group_manager=manager_for(models, groups))
    assert [t.name for t in wrapper.plan.targets] == ["primary.echelon1", "backup.echelon1"]
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert routing["group"] == "backup"
    assert bad.stats.requests == 1
