"""`offline_fallback: mock` over real HTTP: when no instance answers, the mock provider does,
the answer says `offline: true`, each such call logs a WARNING and is counted; a refused
request is never hidden behind a mock answer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import openai
import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.wrappers.base import BaseLLMWrapper
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model, write_config
from routing_helpers import CALL_MODES, answer

ROUTER_LOG = "infrastructure.llm.routing.router"
LOOP = asyncio.new_event_loop()  # one loop for this module's async calls


def group_wrapper(manager_for: Any, *urls: str, offline: str = "mock") -> TaskGroupWrapper:
    models = {"m": openai_model(*urls)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 1}, "offline_fallback": offline}}
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))


def first_message(wrapper: BaseLLMWrapper, mode: str, prompt: str) -> Any:
    """The answer (or, for a stream, its first chunk) of one call made by `mode`."""
    if mode == "invoke":
        return wrapper.invoke(prompt)
    if mode == "ainvoke":
        return LOOP.run_until_complete(wrapper.ainvoke(prompt))
    if mode == "stream":
        chunks = list(wrapper.stream(prompt))
        return chunks[0]

    async def collect() -> list[Any]:
        return [chunk async for chunk in wrapper.astream(prompt)]

    return LOOP.run_until_complete(collect())[0]


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_group_no_instance_answers_is_answered_offline(
    mode: str,
    start_sim: StartSim,
    dead_url: str,
    manager_for: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = start_sim("error_rate:1.0")
    wrapper = group_wrapper(manager_for, dead_url, failing.base_url)
    with caplog.at_level(logging.WARNING, logger=ROUTER_LOG):
        assert answer(wrapper, mode, "are you there") == "Mock reply to: are you there"
        routing = first_message(wrapper, mode, "again").response_metadata["routing"]
    assert routing["offline"] is True
    assert (routing["wrapper"], routing["target"], routing["model"]) == (
        "g_wrapper",
        "g",
        "offline-mock",
    )
    assert routing["instance"] is None and routing["cache_hit"] is False
    assert routing["attempts"] == 2  # both instances were tried first
    assert failing.stats.errors_sent == 2  # one per call: the simulator really was asked
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per call, naming the wrapper and what failed
    for record in warnings:
        text = record.getMessage()
        assert text.startswith("g_wrapper: answering offline from the mock provider")
        assert "m#0" in text and "m#1" in text
    stats = wrapper.get_stats()
    assert stats["offline_answers"] == 2
    assert (stats["failed_requests"], stats["successful_requests"]) == (2, 0)


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_pool_no_instance_answers_is_answered_offline(
    mode: str, dead_url: str, manager_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    models = {"m": openai_model(dead_url)}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"], "offline_fallback": "mock"}}
    manager = manager_for(models, groups, pools)
    wrapper = PollingPoolWrapper(pool="p", task_group_manager=manager)
    with caplog.at_level(logging.WARNING, logger=ROUTER_LOG):
        routing = first_message(wrapper, mode, "hi").response_metadata["routing"]
    assert (routing["offline"], routing["pool"], routing["instance"]) == (True, "p", None)
    assert [r.getMessage()[:30] for r in caplog.records] == ["p_wrapper: answering offline f"]
    assert wrapper.get_stats()["offline_answers"] == 1


def test_a_served_answer_is_not_offline_and_not_counted(
    start_sim: StartSim, dead_url: str, manager_for: Any
) -> None:
    healthy = start_sim("healthy")
    wrapper = group_wrapper(manager_for, dead_url, healthy.base_url)
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert "offline" not in routing and routing["instance"] in ("m#0", "m#1")
    assert wrapper.get_stats()["offline_answers"] == 0


def test_without_the_setting_the_call_fails_as_before(dead_url: str, manager_for: Any) -> None:
    wrapper = group_wrapper(manager_for, dead_url, offline="none")
    with pytest.raises(AllTargetsFailedError):
        wrapper.invoke("hi")
    assert wrapper.get_stats()["offline_answers"] == 0


def test_a_refused_request_is_raised_not_answered_offline(
    start_sim: StartSim, manager_for: Any
) -> None:
    first, second = start_sim("status:400:bad request"), start_sim("status:400:bad request")
    wrapper = group_wrapper(manager_for, first.base_url, second.base_url)
    with pytest.raises(openai.BadRequestError, match="bad request"):
        wrapper.invoke("hi")
    assert wrapper.get_stats()["offline_answers"] == 0


def test_offline_answers_are_a_prometheus_counter(tmp_path: Path, dead_url: str) -> None:
    pytest.importorskip("prometheus_client", reason="the metrics extra is missing")
    models = {"m": openai_model(dead_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 0}, "offline_fallback": "mock"}}
    with LLMWrapperFactory.from_config_dir(write_config(tmp_path, models, groups)) as factory:
        registry = factory.register_metrics()
        factory.get_wrapper("g_wrapper").invoke("hi")
        labels = {"wrapper": "g_wrapper"}
        assert registry.get_sample_value("llm_wrappers_offline_answers_total", labels) == 1
        error = {**labels, "outcome": "error"}
        assert registry.get_sample_value("llm_wrappers_calls_total", error) == 1
