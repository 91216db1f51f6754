"""A 400 or 422 from one instance is confirmed on another before it ends the call: gateways
answer 400 for faults of their own (a LiteLLM proxy without its database: `400 No connected
db.`)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer


def wrapper_over(manager_for: Any, *urls: str, **echelon: Any) -> TaskGroupWrapper:
    models = {"m": openai_model(*urls)}
    groups = {"g": {"echelon1": {"models": ["m"], **echelon}}}
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))


@pytest.mark.parametrize("mode", CALL_MODES)
@pytest.mark.parametrize("refusal", ["status:400:No connected db.", "status:422"])
def test_a_gateway_refusal_is_retried_elsewhere_and_counted_against_it(
    refusal: str, mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    gateway, healthy = start_sim(refusal), start_sim("healthy")
    wrapper = wrapper_over(manager_for, gateway.base_url, healthy.base_url)
    for _ in range(4):  # round robin: every other call starts at the gateway
        assert answer(wrapper, mode, "hi") == "Simulated reply to: hi"
    assert gateway.stats.errors_sent == 2
    stats = wrapper.get_stats()
    assert stats["failed_requests"] == 0
    assert stats["per_instance"]["m#0"] == {"requests": 2, "failures": 2, "error_rate": 1.0}
    assert stats["breakers"]["g.echelon1"]["m#0"]["consecutive_failures"] == 2


def test_a_refusal_confirmed_elsewhere_raises_the_first_error(
    start_sim: StartSim, manager_for: Any
) -> None:
    first, second = start_sim("status:400:first says no"), start_sim("status:400:second too")
    wrapper = wrapper_over(manager_for, first.base_url, second.base_url)
    with pytest.raises(openai.BadRequestError, match="first says no"):
        wrapper.invoke("hi")
    assert (first.stats.errors_sent, second.stats.errors_sent) == (1, 1)
    # The request was at fault: neither instance counts it as a failure.
    breakers = wrapper.get_stats()["breakers"]["g.echelon1"]
    assert [b["consecutive_failures"] for b in breakers.values()] == [0, 0]


def test_a_refusal_is_confirmed_at_the_next_target_when_its_echelon_has_no_other(
    start_sim: StartSim, manager_for: Any
) -> None:
    gateway, healthy = start_sim("status:400:No connected db."), start_sim("healthy")
    models = {"gw": openai_model(gateway.base_url), "ok": openai_model(healthy.base_url)}
    groups = {"g": {"echelon1": {"models": ["gw"]}, "echelon2": {"models": ["ok"]}}}
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert (routing["echelon"], routing["fallbacks"]) == (2, 1)


def test_with_no_other_instance_the_refusal_is_raised_at_once(
    start_sim: StartSim, manager_for: Any
) -> None:
    gateway = start_sim("status:400:No connected db.")
    wrapper = wrapper_over(manager_for, gateway.base_url, max_retries=3)
    with pytest.raises(openai.BadRequestError, match="No connected db"):
        wrapper.invoke("hi")
    assert gateway.stats.errors_sent == 1
