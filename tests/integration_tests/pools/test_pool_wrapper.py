"""PollingPoolWrapper over real ChatOpenAI instances talking HTTP to simulators."""

from __future__ import annotations

from collections import Counter
from typing import Any

import openai
import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.errors import AllTargetsFailedError, LLMWrapperError
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.sim import FaultMode
from infrastructure.llm.wrappers.factory import LLMWrapperFactory
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer


def pool_config(
    *urls: str,
    rotation: str = "round_robin",
    strategy: str = "instance_rotation",
    attempts: int = 2,
    weights: list[float] | None = None,
    echelon: dict[str, Any] | None = None,
    pool: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A model served at `urls`, a group `g` over it, and a pool `p` over `g`."""
    model = openai_model(*urls)
    if weights:
        for endpoint, weight in zip(model["endpoints"], weights, strict=True):
            endpoint["weight"] = weight
    groups = {"g": {"echelon1": {"models": ["m"], "timeout": 5, **(echelon or {})}}}
    pools = {
        "p": {
            "task_groups": ["g"],
            "rotation_strategy": rotation,
            "failure_threshold": 1,
            "fallback_config": {"strategy": strategy, "max_instance_attempts": attempts},
            **(pool or {}),
        }
    }
    return {"m": model}, groups, pools


def pool_wrapper(manager: TaskGroupManager, **kwargs: Any) -> PollingPoolWrapper:
    return PollingPoolWrapper(
        name="p_wrapper", polling_pool_manager=PollingPoolManager(manager), **kwargs
    )


def test_round_robin_spreads_calls_over_every_instance(
    start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("healthy") for _ in range(3)]
    wrapper = pool_wrapper(manager_for(*pool_config(*(s.base_url for s in sims))))
    served = Counter(
        wrapper.invoke("hi").response_metadata["routing"]["instance"] for _ in range(9)
    )
    assert served == {"m#0": 3, "m#1": 3, "m#2": 3}
    assert [s.stats.completed for s in sims] == [3, 3, 3]


def test_routing_metadata_names_pool_and_instance(start_sim: StartSim, manager_for: Any) -> None:
    sim = start_sim("healthy")
    wrapper = pool_wrapper(manager_for(*pool_config(sim.base_url)))
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert routing["pool"] == "p"
    assert routing["wrapper"] == "p_wrapper"
    assert (routing["group"], routing["echelon"], routing["instance"]) == ("g", 1, "m#0")
    assert (routing["attempts"], routing["hedged"]) == (1, False)


@pytest.mark.parametrize("mode", CALL_MODES)
def test_instance_rotation_moves_past_a_dead_instance(
    mode: str, start_sim: StartSim, manager_for: Any, dead_url: str
) -> None:
    sim = start_sim("healthy")
    wrapper = pool_wrapper(manager_for(*pool_config(dead_url, sim.base_url)))
    assert answer(wrapper, mode, "hi") == "Simulated reply to: hi"
    stats = wrapper.get_stats()
    assert stats["per_instance"]["m#0"] == {"requests": 1, "failures": 1, "error_rate": 1.0}
    assert stats["retries"] == 1


def test_instance_rotation_never_retries_the_same_instance_while_others_are_free(
    start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    failing = [start_sim("error_rate:1.0") for _ in range(3)]
    wrapper = pool_wrapper(manager_for(*pool_config(*(s.base_url for s in failing), attempts=3)))
    with pytest.raises(
        AllTargetsFailedError, match=r"pool 'p': no instance answered in 3 attempts"
    ):
        wrapper.invoke("hi")
    assert [s.stats.errors_sent for s in failing] == [1, 1, 1]
    assert fake_clock.sleeps == []  # a fresh instance was free each time: no backoff


def test_simple_retry_stays_on_one_instance_with_backoff(
    start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    failing, healthy = start_sim("error_rate:1.0"), start_sim("healthy")
    config = pool_config(failing.base_url, healthy.base_url, strategy="simple_retry", attempts=3)
    wrapper = pool_wrapper(manager_for(*config))
    with pytest.raises(AllTargetsFailedError, match=r"3 attempts"):
        wrapper.invoke("hi")
    assert (failing.stats.errors_sent, healthy.stats.requests) == (3, 0)
    assert len(fake_clock.sleeps) == 2 and all(s > 0 for s in fake_clock.sleeps)


def test_simple_retry_recovers_on_the_same_instance(start_sim: StartSim, manager_for: Any) -> None:
    flaky = start_sim(FaultMode(mode="error_rate", error_rate=0.5, seed=3))
    wrapper = pool_wrapper(
        manager_for(*pool_config(flaky.base_url, strategy="simple_retry", attempts=10))
    )
    for _ in range(5):
        assert wrapper.invoke("hi").content == "Simulated reply to: hi"
    assert flaky.stats.errors_sent >= 1


def test_a_bad_request_is_confirmed_once_elsewhere_then_raised(
    start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("healthy") for _ in range(3)]
    wrapper = pool_wrapper(manager_for(*pool_config(*(s.base_url for s in sims))))
    bad_choice = {"type": "function", "function": {"name": "missing"}}
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    with pytest.raises(openai.BadRequestError, match="'missing', which is not in 'tools'"):
        wrapper.invoke("hi", tools=tools, tool_choice=bad_choice)
    # A 400 may be a gateway's own fault: one other instance was asked, and it refused too.
    assert sum(s.stats.bad_requests for s in sims) == 2


def test_health_check_reports_healthy_and_total(
    start_sim: StartSim, manager_for: Any, dead_url: str
) -> None:
    sim = start_sim("healthy")
    wrapper = pool_wrapper(manager_for(*pool_config(dead_url, sim.base_url)))
    report = wrapper.health_check()
    assert (report["healthy_instances"], report["total_instances"]) == (1, 2)
    assert report["instances"]["m#0"]["healthy"] is False
    assert "sk-test-secret" not in repr(report)


def test_unhealthy_instances_leave_the_rotation(
    start_sim: StartSim, manager_for: Any, dead_url: str
) -> None:
    sim = start_sim("healthy")
    wrapper = pool_wrapper(manager_for(*pool_config(dead_url, sim.base_url)))
    wrapper.health_check()
    for _ in range(6):
        assert wrapper.invoke("hi").response_metadata["routing"]["instance"] == "m#1"
    assert wrapper.get_stats()["per_instance"] == {
        "m#1": {"requests": 6, "failures": 0, "error_rate": 0.0}
    }


def test_when_every_instance_is_unhealthy_calls_still_try_them(
    start_sim: StartSim, manager_for: Any
) -> None:
    sim = start_sim("refuse")
    wrapper = pool_wrapper(manager_for(*pool_config(sim.base_url)))
    assert wrapper.health_check()["healthy_instances"] == 0
    sim.set_fault(FaultMode.parse("healthy"))
    assert wrapper.invoke("hi").content == "Simulated reply to: hi"


def test_weighted_rotation_follows_endpoint_weights(start_sim: StartSim, manager_for: Any) -> None:
    sims = [start_sim("healthy") for _ in range(2)]
    config = pool_config(*(s.base_url for s in sims), rotation="weighted", weights=[1, 4])
    wrapper = pool_wrapper(manager_for(*config))
    for _ in range(100):
        wrapper.invoke("hi")
    light, heavy = (s.stats.completed for s in sims)
    assert heavy > 2 * light > 0


def test_random_rotation_reaches_every_instance(start_sim: StartSim, manager_for: Any) -> None:
    sims = [start_sim("healthy") for _ in range(3)]
    wrapper = pool_wrapper(
        manager_for(*pool_config(*(s.base_url for s in sims), rotation="random"))
    )
    for _ in range(60):
        wrapper.invoke("hi")
    assert all(s.stats.completed > 0 for s in sims)


async def test_least_busy_sends_calls_away_from_a_busy_instance(
    start_sim: StartSim, manager_for: Any
) -> None:
    slow, fast = start_sim("slow:0.5"), start_sim("healthy")
    wrapper = pool_wrapper(
        manager_for(*pool_config(slow.base_url, fast.base_url, rotation="least_busy"))
    )
    stream = wrapper.astream("hold a slot")  # streams keep their slot until closed
    first = await anext(stream)
    assert first.response_metadata["routing"]["instance"] == "m#0"
    try:
        for _ in range(3):
            routing = (await wrapper.ainvoke("hi")).response_metadata["routing"]
            assert routing["instance"] == "m#1"
    finally:
        await stream.aclose()


def test_pool_calls_respect_the_echelon_concurrency_limit(
    start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("healthy") for _ in range(2)]
    config = pool_config(*(s.base_url for s in sims), echelon={"concurrency_limit": 1})
    manager = manager_for(*config)
    wrapper = pool_wrapper(manager)
    stream = wrapper.stream("hold the only slot")
    next(stream)
    with pytest.raises(AllTargetsFailedError, match="concurrency limit 1 reached"):
        wrapper.invoke("hi")
    stream.close()
    assert wrapper.invoke("hi").content == "Simulated reply to: hi"


def test_factory_registers_a_wrapper_per_pool(start_sim: StartSim, tmp_path: Any) -> None:
    from conftest import write_config

    sim = start_sim("healthy")
    directory = write_config(tmp_path / "llms", *pool_config(sim.base_url))
    factory = LLMWrapperFactory.from_config_dir(directory)
    assert factory.list_wrappers() == ["g_wrapper", "p_wrapper"]
    wrapper = factory.get_wrapper("p_wrapper")
    assert isinstance(wrapper, PollingPoolWrapper)
    assert wrapper.invoke("hi").response_metadata["routing"]["pool"] == "p"
    assert factory.get_wrapper_stats()["wrapper_types"] == {"task_group": 1, "polling_pool": 1}
    health = factory.health_check_all()
    assert health["p_wrapper"]["total_instances"] == 1


def test_factory_creates_pool_wrapper_named_after_its_pool(
    start_sim: StartSim, manager_for: Any
) -> None:
    sim = start_sim("healthy")
    factory = LLMWrapperFactory(manager_for(*pool_config(sim.base_url)))
    wrapper = factory.create_polling_pool_wrapper("p_wrapper", {"max_instance_attempts": 4})
    assert (wrapper.pool, wrapper.max_instance_attempts) == ("p", 4)
    assert factory.get_wrapper("p_wrapper") is wrapper


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("mine", {}, "say which pool it routes"),
        ("p_wrapper", {"rotation": "x"}, r"unknown option\(s\) \['rotation'\]"),
        ("nope_wrapper", {}, "unknown polling pool 'nope' \\(known pools: p\\)"),
    ],
)
def test_factory_rejects_bad_pool_wrapper_config(
    name: str, config: dict[str, Any], message: str, start_sim: StartSim, manager_for: Any
) -> None:
    sim = start_sim("healthy")
    factory = LLMWrapperFactory(manager_for(*pool_config(sim.base_url)))
    with pytest.raises((LLMWrapperError, ValueError), match=message):
        factory.create_polling_pool_wrapper(name, config)


def test_factory_context_stops_health_checks(start_sim: StartSim, tmp_path: Any) -> None:
    import threading

    from conftest import write_config

    sim = start_sim("healthy")
    directory = write_config(tmp_path / "llms", *pool_config(sim.base_url))
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        factory.start_health_checks()
        health = factory.polling_pool_manager.health()["p"]
        assert health["checks_running"] is True
        assert (health["healthy_instances"], health["total_instances"]) == (1, 1)
    assert factory.polling_pool_manager.health()["p"]["checks_running"] is False
    assert not [t for t in threading.enumerate() if t.name.startswith("pool-health-")]
