"""Replicas sharing Redis share the load readings of a least_loaded pool: per interval one of
them scrapes each instance's /metrics, and every replica routes by what it read; with Redis
gone each replica scrapes for itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.least_loaded import LeastLoaded
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.pool import PollingPool
from infrastructure.llm.fleet.pool_load import fetch_text
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.sim.vllm import VllmConfig

from .conftest import MakeState, RedisServer
from conftest import StartSim, openai_model, write_config

FAST = VllmConfig(prefill_ms_per_token=0.0, decode_ms_per_token=0.0)


def replica_pool(directory: Path, state: Any, clock: FakeClock) -> tuple[PollingPool, list[str]]:
    """Pool `p` as one replica builds it, its scrapes counted in the returned list."""
    manager = TaskGroupManager.from_config_dir(directory, state=state, clock=clock)
    pool = PollingPoolManager(manager).pool("p")
    fetched: list[str] = []
    assert pool.load is not None

    def counting(url: str, timeout: float) -> str:
        fetched.append(url)
        return fetch_text(url, timeout)

    pool.load._fetch = counting  # the real HTTP scrape, counted
    return pool, fetched


def fleet(root: Path, *urls: str) -> Path:
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {
        "p": {"task_groups": ["g"], "rotation_strategy": "least_loaded", "metrics_interval": 30}
    }
    return write_config(root / "llms", {"m": openai_model(*urls)}, groups, pools)


def test_two_replicas_scrape_once_per_interval_between_them(
    start_sim: StartSim, tmp_path: Path, make_state: MakeState, fake_clock: FakeClock
) -> None:
    sims = [start_sim("healthy", vllm=FAST) for _ in range(3)]
    directory = fleet(tmp_path, *(s.base_url for s in sims))
    first, first_fetched = replica_pool(directory, make_state(), fake_clock)
    second, second_fetched = replica_pool(directory, make_state(), fake_clock)
    assert first.load is not None and second.load is not None
    assert first.load.scrape_now(claim=True) == 3
    assert second.load.scrape_now(claim=True) == 0  # the interval's scrapes are taken
    assert len(first_fetched) == 3 and second_fetched == []
    rotation = second.rotation
    assert isinstance(rotation, LeastLoaded)
    assert all(rotation.load(index) == 0.0 for index in range(3))  # read from Redis
    first_rotation = first.rotation
    assert isinstance(first_rotation, LeastLoaded)
    serials = [first_rotation.reading(index).serial for index in range(3)]  # type: ignore[union-attr]
    assert [rotation.reading(index).serial for index in range(3)] == serials  # type: ignore[union-attr]
    # Another round within the interval: nobody scrapes again, both still read the readings.
    assert first.load.scrape_now(claim=True) == 0
    assert second.load.scrape_now(claim=True) == 0
    assert len(first_fetched) == 3 and second_fetched == []


def test_without_redis_each_replica_scrapes_for_itself(
    start_sim: StartSim,
    tmp_path: Path,
    make_state: MakeState,
    redis_server: RedisServer,
    fake_clock: FakeClock,
) -> None:
    sims = [start_sim("healthy", vllm=FAST) for _ in range(2)]
    directory = fleet(tmp_path, *(s.base_url for s in sims))
    first, first_fetched = replica_pool(directory, make_state(url=redis_server.url), fake_clock)
    second, second_fetched = replica_pool(directory, make_state(url=redis_server.url), fake_clock)
    redis_server.kill()
    assert first.load is not None and second.load is not None
    assert first.load.scrape_now(claim=True) == 2
    assert second.load.scrape_now(claim=True) == 2
    assert len(first_fetched) == len(second_fetched) == 2
    rotation = second.rotation
    assert isinstance(rotation, LeastLoaded)
    assert rotation.load(0) == 0.0 and rotation.load(1) == 0.0  # its own, kept locally
