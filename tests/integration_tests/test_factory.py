"""LLMWrapperFactory over simulators: wrappers by name, config directories, stats and health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm import LLMWrapperError, LLMWrapperFactory
from infrastructure.llm.clock import FakeClock

from conftest import StartSim, openai_model, write_config

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "llms"


def test_example_fast_group_serves_through_its_echelons(
    monkeypatch: pytest.MonkeyPatch, start_sim: StartSim, dead_url: str
) -> None:
    """With the hosted APIs unreachable, the local vLLM fleet (here: simulators) answers."""
    vllm = [start_sim("error_rate:1.0"), start_sim("healthy"), start_sim("healthy")]
    monkeypatch.setenv("LLM_WRAPPERS_OPENAI_URL", dead_url)
    monkeypatch.setenv("LLM_WRAPPERS_ANTHROPIC_URL", dead_url)
    for index, server in enumerate(vllm, start=1):
        monkeypatch.setenv(f"VLLM_URL_{index}", server.base_url)
    factory = LLMWrapperFactory.from_config_dir(REPO_CONFIGS, clock=FakeClock())
    message = factory.get_wrapper("fast_group_wrapper").invoke("hello")
    routing = message.response_metadata["routing"]
    assert routing["target"] == "fast_group.echelon2"
    assert routing["model"] == "local-qwen"
    assert message.content == "Simulated reply to: hello"


def test_example_fast_group_ends_at_the_mock_when_everything_is_down(
    monkeypatch: pytest.MonkeyPatch, dead_url: str
) -> None:
    for var in (
        "LLM_WRAPPERS_OPENAI_URL",
        "LLM_WRAPPERS_ANTHROPIC_URL",
        "VLLM_URL_1",
        "VLLM_URL_2",
    ):
        monkeypatch.setenv(var, dead_url)
    monkeypatch.setenv("VLLM_URL_3", dead_url)
    factory = LLMWrapperFactory.from_config_dir(REPO_CONFIGS, clock=FakeClock())
    message = factory.get_wrapper("fast_group_wrapper").invoke("hello")
    assert message.response_metadata["routing"]["target"] == "fast_group.echelon3"
    assert message.content == "Mock reply to: hello"


def test_example_fast_pool_rotates_over_the_healthy_part_of_the_fleet(
    start_sim: StartSim, monkeypatch: pytest.MonkeyPatch, dead_url: str
) -> None:
    vllm = [start_sim("error_rate:1.0"), start_sim("healthy"), start_sim("healthy")]
    monkeypatch.setenv("LLM_WRAPPERS_OPENAI_URL", dead_url)
    monkeypatch.setenv("LLM_WRAPPERS_ANTHROPIC_URL", dead_url)
    for index, server in enumerate(vllm, start=1):
        monkeypatch.setenv(f"VLLM_URL_{index}", server.base_url)
    factory = LLMWrapperFactory.from_config_dir(REPO_CONFIGS, clock=FakeClock())
    pool = factory.get_wrapper("fast_pool_wrapper")
    for _ in range(3):  # fast_pool's failure_threshold
        health = pool.health_check()
    assert (health["healthy_instances"], health["total_instances"]) == (3, 6)
    served = {pool.invoke("hello").response_metadata["routing"]["instance"] for _ in range(6)}
    assert served == {"local-qwen#vllm-2", "local-qwen#vllm-3", "mock-echo#0"}


@pytest.fixture
def factory(start_sim: StartSim, dead_url: str, tmp_path: Path) -> LLMWrapperFactory:
    good = start_sim("healthy")
    models = {"dead": openai_model(dead_url), "good": openai_model(good.base_url)}
    groups: dict[str, dict[str, Any]] = {
        "g": {
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
            "echelon3": {"models": ["good"]},
        }
    }
    return LLMWrapperFactory.from_config_dir(write_config(tmp_path, models, groups))


def test_create_task_group_wrapper_as_the_seed_shows(factory: LLMWrapperFactory) -> None:
    wrapper = factory.create_task_group_wrapper(
        name="fast_wrapper",
        config={"target": "g.echelon1", "fallback_groups": ["g.echelon3"]},
    )
    assert factory.get_wrapper("fast_wrapper") is wrapper
    # The list replaces the group's order: echelon2, not listed, is not tried.
    assert [t.name for t in wrapper.plan.targets] == ["g.echelon1", "g.echelon3"]
    assert wrapper.invoke("hi").response_metadata["routing"]["wrapper"] == "fast_wrapper"


def test_bad_wrapper_requests_are_clear(factory: LLMWrapperFactory) -> None:
    with pytest.raises(LLMWrapperError, match="already exists"):
        factory.create_task_group_wrapper("g_wrapper", {"target": "g"})
    with pytest.raises(LLMWrapperError, match="unknown option"):
        factory.create_task_group_wrapper("x", {"target": "g", "fallbacks": []})
    with pytest.raises(LLMWrapperError, match="needs a 'target'"):
        factory.create_task_group_wrapper("x", {})
    with pytest.raises(LLMWrapperError, match="unknown task group 'nope'"):
        factory.create_task_group_wrapper("x", {"target": "nope"})
    with pytest.raises(LLMWrapperError, match="has no echelon7"):
        factory.create_task_group_wrapper("x", {"target": "g.echelon7"})
    with pytest.raises(LLMWrapperError, match="no wrapper named 'missing'"):
        factory.get_wrapper("missing")


def test_wrapper_stats_and_health(factory: LLMWrapperFactory) -> None:
    factory.create_task_group_wrapper("second", {"target": "g.echelon2"})
    factory.get_wrapper("g_wrapper").invoke("hi")
    stats = factory.get_wrapper_stats()
    assert stats["total_wrappers"] == 2
    assert stats["wrapper_types"] == {"task_group": 2}
    assert stats["wrappers"]["g_wrapper"]["successful_requests"] == 1

    health = factory.health_check_all()
    assert health["g_wrapper"]["healthy"] is True
    assert health["g_wrapper"]["healthy_instances"] == 1
    assert health["g_wrapper"]["total_instances"] == 2
    assert health["g_wrapper"]["instances"]["dead#0"]["healthy"] is False
    assert health["second"] == {
        "healthy": True,
        "healthy_instances": 1,
        "total_instances": 1,
        "instances": {"good#0": {"healthy": True, "error": None}},
    }
