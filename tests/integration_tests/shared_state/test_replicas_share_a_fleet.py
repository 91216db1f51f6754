"""Wrappers of several replicas share one fleet through Redis: chosen by `state.yaml` or by
the factory's `state=` argument, they see each other's breakers, cool-downs and health, and
keep answering when Redis is gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.llm.fleet import pool_health
from infrastructure.llm.resilience.redis import RedisState
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from .conftest import free_port
from conftest import StartSim, openai_model, write_config


def fleet_dir(root: Path, *urls: str, pools: dict[str, Any] | None = None) -> Path:
    """Group `g` over one echelon of `urls`; a breaker that opens at the first failure."""
    breaker = {"failure_threshold": 1, "recovery_time": 60}
    groups = {
        "g": {
            "echelon1": {"models": ["m"], "max_retries": 1},
            "fallback_config": {"circuit_breaker": breaker},
        }
    }
    return write_config(root / "llms", {"m": openai_model(*urls)}, groups, pools)


def write_state(directory: Path, **settings: Any) -> None:
    (directory / "state.yaml").write_text(yaml.safe_dump(settings))


def replicas(directory: Path, count: int = 2, **kwargs: Any) -> list[LLMWrapperFactory]:
    """`count` factories over one directory, as separate processes would build them."""
    return [LLMWrapperFactory.from_config_dir(directory, **kwargs) for _ in range(count)]


def test_state_yaml_makes_replicas_share_and_the_argument_wins_over_it(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str
) -> None:
    directory = fleet_dir(tmp_path, start_sim("healthy").base_url)
    write_state(directory, backend="redis", url=redis_url, key_prefix=key_prefix)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        state = factory.task_group_manager.state
        assert isinstance(state, RedisState) and state.key_prefix == key_prefix
        wrapper = factory.get_wrapper("g_wrapper")
        assert wrapper.invoke("hi").content == "Simulated reply to: hi"
        assert wrapper.get_stats()["state"] == "shared"
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    write_state(directory, backend="redis", url=unreachable, key_prefix=key_prefix)
    with LLMWrapperFactory.from_config_dir(directory, state=redis_url) as factory:
        assert factory.get_wrapper("g_wrapper").get_stats()["state"] == "shared"
    own = InMemoryState()
    with LLMWrapperFactory.from_config_dir(directory, state=own) as factory:
        assert factory.task_group_manager.state is own
        assert factory.get_wrapper("g_wrapper").get_stats()["state"] == "memory"


def test_a_breaker_one_replica_opens_keeps_the_others_off_the_instance(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str
) -> None:
    failing, healthy = start_sim("error_rate:1.0"), start_sim("healthy")
    directory = fleet_dir(tmp_path, failing.base_url, healthy.base_url)
    write_state(directory, backend="redis", url=redis_url, key_prefix=key_prefix)
    first, second = replicas(directory)
    with first, second:
        first.get_wrapper("g_wrapper").invoke("hi")  # m#0 fails, its breaker opens; m#1 answers
        assert failing.stats.requests == 1
        for _ in range(4):
            answer = second.get_wrapper("g_wrapper").invoke("hi")
            assert answer.response_metadata["routing"]["instance"] == "m#1"
        assert failing.stats.requests == 1  # the other replica never sent it a call


def test_a_retry_after_one_replica_receives_is_honoured_by_the_others(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str
) -> None:
    limited, healthy = start_sim("rate_limit:30"), start_sim("healthy")
    directory = fleet_dir(tmp_path, limited.base_url, healthy.base_url)
    write_state(directory, backend="redis", url=redis_url, key_prefix=key_prefix)
    first, second = replicas(directory)
    with first, second:
        first.get_wrapper("g_wrapper").invoke("hi")  # 429 with Retry-After: 30 on m#0
        assert limited.stats.requests == 1
        for _ in range(4):
            second.get_wrapper("g_wrapper").invoke("hi")
        assert limited.stats.requests == 1


def test_calls_keep_answering_when_redis_cannot_be_reached(
    tmp_path: Path, start_sim: StartSim, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    directory = fleet_dir(tmp_path, start_sim("healthy").base_url)
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    write_state(directory, backend="redis", url=unreachable, key_prefix=key_prefix, op_timeout=0.1)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        wrapper = factory.get_wrapper("g_wrapper")
        for _ in range(3):
            assert wrapper.invoke("hi").content == "Simulated reply to: hi"
        assert wrapper.get_stats()["state"].startswith("local (degraded since ")
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "Redis" in r.message]
    assert len(warnings) == 1


def test_replicas_do_not_multiply_health_probes(
    tmp_path: Path,
    start_sim: StartSim,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sims = [start_sim("healthy") for _ in range(3)]
    pools = {"p": {"task_groups": ["g"], "health_check_interval": 30}}
    directory = fleet_dir(tmp_path, *(sim.base_url for sim in sims), pools=pools)
    write_state(directory, backend="redis", url=redis_url, key_prefix=key_prefix)
    probed: list[str] = []
    real_probe = pool_health.probe_path

    def counted(instance: Any, path: str, timeout: float) -> Any:
        probed.append(instance.id)
        return real_probe(instance, path, timeout)

    monkeypatch.setattr(pool_health, "probe_path", counted)
    factories = replicas(directory, count=3)
    pools = [factory.polling_pool_manager.pool("p") for factory in factories]
    rounds = [pool.health.check_now(claim=True) for pool in pools]  # as background rounds do
    # Three replicas, one round each within the 30 s interval: each instance probed once.
    assert sorted(probed) == ["m#0", "m#1", "m#2"]
    assert sorted(len(results) for results in rounds) == [0, 0, 3]
    assert all(pool.health.healthy_count == 3 for pool in pools)  # every replica sees them
    for factory in factories:
        factory.close()
