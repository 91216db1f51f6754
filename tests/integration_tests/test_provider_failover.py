"""provider_failover: another provider's models take over when one provider's instances fail."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer


def two_provider_group(*urls: str) -> tuple[dict[str, Any], dict[str, Any]]:
    models = {
        "hosted": openai_model(*urls),
        "local": {"provider": "mock", "model": "echo"},
    }
    groups = {
        "g": {
            "echelon1": {"models": ["hosted", "local"], "max_retries": 3},
            "fallback_config": {"strategy": "provider_failover"},
        }
    }
    return models, groups


def test_plan_splits_each_echelon_by_provider(start_sim: StartSim, manager_for: Any) -> None:
    sim = start_sim("healthy")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_provider_group(sim.base_url))
    )
    assert [t.name for t in wrapper.plan.targets] == ["g.echelon1@openai", "g.echelon1@mock"]


def test_primary_provider_serves_while_it_is_healthy(start_sim: StartSim, manager_for: Any) -> None:
    sim = start_sim("healthy")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_provider_group(sim.base_url))
    )
    for _ in range(4):
        assert wrapper.invoke("hi").response_metadata["routing"]["model"] == "hosted"


@pytest.mark.parametrize("mode", CALL_MODES)
def test_other_provider_takes_over_when_all_instances_of_one_fail(
    mode: str, start_sim: StartSim, manager_for: Any, dead_url: str
) -> None:
    failing = start_sim("error_rate:1.0")
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(*two_provider_group(dead_url, failing.base_url))
    )
    assert answer(wrapper, mode, "hi") == "Mock reply to: hi"
    history = wrapper.get_fallback_history()
    assert history[-1]["from_target"] == "g.echelon1@openai"
    assert history[-1]["to_target"] == "g.echelon1@mock"
    # Both openai instances were tried (and retried) before the provider was given up.
    assert failing.stats.requests >= 1
    assert wrapper.get_stats()["per_instance"]["hosted#0"]["failures"] >= 1
