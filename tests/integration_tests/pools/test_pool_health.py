"""Pool health checks: thresholds, recovery holds, custom paths, timeouts, async, threads."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from pydantic import SecretStr

from infrastructure.llm.clock import Clock, FakeClock, MonotonicClock
from infrastructure.llm.config.schema import PollingPoolConfig
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.pool_health import PoolHealth
from infrastructure.llm.providers.chat_models import build_chat_models
from infrastructure.llm.resilience.state import HealthRecord, InMemoryState
from infrastructure.llm.sim import FaultMode

from conftest import StartSim

SECRET = "sk-test-very-secret-key"


def openai_instance(url: str, name: str = "sim", api_key: str = "sk-test") -> Instance:
    models = build_chat_models(
        provider="openai", model="sim-model", base_url=url, api_key=SecretStr(api_key), params={}
    )
    return Instance(
        id=f"{name}#0",
        model_name=name,
        provider="openai",
        model="sim-model",
        base_url=url,
        models=models,
    )


def mock_instance(name: str) -> Instance:
    models = build_chat_models(
        provider="mock", model="mock", base_url=None, api_key=None, params={}
    )
    return Instance(
        id=f"{name}#0",
        model_name=name,
        provider="mock",
        model="mock",
        base_url=None,
        models=models,
    )


def pool_config(**overrides: Any) -> PollingPoolConfig:
    settings: dict[str, Any] = {
        "failure_threshold": 3,
        "recovery_time": 60.0,
        "health_check_timeout": 2.0,
        **overrides,
    }
    return PollingPoolConfig(name="p", task_groups=["g"], **settings)


class Changes:
    """Records `on_change` calls in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, index: int, healthy: bool) -> None:
        self.calls.append((index, healthy))


class CountingState(InMemoryState):
    """InMemoryState that counts recorded probe results, so tests can wait for rounds."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded = 0
        self._changed = threading.Condition()

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        record = super().record_health(key, ok, failure_threshold, now)
        with self._changed:
            self.recorded += 1
            self._changed.notify_all()
        return record

    def wait_for_records(self, count: int, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.recorded >= count, timeout)


def make_health(
    instances: list[Instance],
    clock: Clock,
    state: InMemoryState | None = None,
    **config: Any,
) -> tuple[PoolHealth, Changes]:
    changes = Changes()
    health = PoolHealth(
        "p", instances, pool_config(**config), state or InMemoryState(), clock, changes
    )
    return health, changes


def health_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pool-health-")]


# --- thresholds and recovery (fake clock) -------------------------------------------------------


def test_healthy_instance_stays_healthy(start_sim: StartSim, fake_clock: FakeClock) -> None:
    server = start_sim("healthy")
    health, changes = make_health([openai_instance(server.base_url)], fake_clock)

    for _ in range(3):
        results = health.check_now()
        assert [(r.instance, r.healthy, r.error) for r in results] == [("sim#0", True, None)]
        fake_clock.advance(30)

    assert health.is_healthy(0)
    assert health.healthy_count == 1
    assert changes.calls == []
    assert health.snapshot() == {
        "sim#0": {"healthy": True, "consecutive_failures": 0, "since": 0.0}
    }


def test_unchecked_instance_counts_as_healthy(dead_url: str, fake_clock: FakeClock) -> None:
    health, _ = make_health([openai_instance(dead_url)], fake_clock)

    assert health.is_healthy(0)
    assert health.snapshot() == {
        "sim#0": {"healthy": True, "consecutive_failures": 0, "since": None}
    }


def test_refused_instance_turns_unhealthy_exactly_at_threshold(
    dead_url: str, fake_clock: FakeClock
) -> None:
    health, changes = make_health([openai_instance(dead_url)], fake_clock, failure_threshold=3)

    for failures in (1, 2):
        [result] = health.check_now()
        assert not result.healthy
        assert result.error is not None and result.error.startswith("APIConnectionError")
        assert health.is_healthy(0)
        assert health.snapshot()["sim#0"]["consecutive_failures"] == failures
        assert changes.calls == []
        fake_clock.advance(1)

    health.check_now()

    assert not health.is_healthy(0)
    assert health.healthy_count == 0
    assert changes.calls == [(0, False)]
    assert health.snapshot() == {
        "sim#0": {"healthy": False, "consecutive_failures": 3, "since": 2.0}
    }


def test_unhealthy_instance_is_not_probed_before_recovery_time(
    dead_url: str, fake_clock: FakeClock
) -> None:
    state = CountingState()
    health, _ = make_health(
        [openai_instance(dead_url)], fake_clock, state, failure_threshold=1, recovery_time=60
    )
    health.check_now()
    assert not health.is_healthy(0)

    fake_clock.advance(59.9)
    assert health.check_now() == []
    assert state.recorded == 1

    fake_clock.advance(0.1)
    [result] = health.check_now()
    assert not result.healthy
    assert state.recorded == 2


def test_recovered_instance_comes_back_after_recovery_time(
    start_sim: StartSim, fake_clock: FakeClock
) -> None:
    server = start_sim("error_rate:1.0")
    health, changes = make_health(
        [openai_instance(server.base_url)], fake_clock, failure_threshold=2, recovery_time=60
    )
    health.check_now()
    fake_clock.advance(5)
    [result] = health.check_now()
    assert result.error is not None and result.error.startswith("InternalServerError")
    assert changes.calls == [(0, False)]

    server.set_fault(FaultMode.parse("healthy"))
    fake_clock.advance(30)
    assert health.check_now() == []  # back already, but not due for 30 more seconds
    assert not health.is_healthy(0)

    fake_clock.advance(30)
    [result] = health.check_now()

    assert result.healthy
    assert health.is_healthy(0)
    assert changes.calls == [(0, False), (0, True)]
    assert health.snapshot()["sim#0"] == {
        "healthy": True,
        "consecutive_failures": 0,
        "since": 65.0,
    }


def test_failing_reprobe_keeps_instance_out_for_another_recovery_time(
    start_sim: StartSim, fake_clock: FakeClock
) -> None:
    server = start_sim("refuse")
    health, changes = make_health(
        [openai_instance(server.base_url)], fake_clock, failure_threshold=1, recovery_time=60
    )
    health.check_now()
    fake_clock.advance(60)
    [result] = health.check_now()  # the re-probe fails: held back until t=120
    assert not result.healthy

    server.set_fault(FaultMode.parse("healthy"))
    fake_clock.advance(59)
    assert health.check_now() == []
    assert not health.is_healthy(0)

    fake_clock.advance(1)
    [result] = health.check_now()

    assert result.healthy
    assert changes.calls == [(0, False), (0, True)]


def test_custom_health_check_path(start_sim: StartSim, fake_clock: FakeClock) -> None:
    server = start_sim("healthy")
    instance = openai_instance(server.base_url)
    good, _ = make_health([instance], fake_clock, health_check_path="/health")
    missing, _ = make_health(
        [instance], fake_clock, health_check_path="/ready", failure_threshold=1
    )

    [ok] = good.check_now()
    [not_found] = missing.check_now()

    assert ok.healthy and good.is_healthy(0)
    assert not_found.error is not None and not_found.error.startswith("NotFoundError")
    assert not missing.is_healthy(0)


def test_hung_instance_fails_by_timeout(start_sim: StartSim, fake_clock: FakeClock) -> None:
    server = start_sim("hang")
    health, changes = make_health(
        [openai_instance(server.base_url)],
        fake_clock,
        failure_threshold=1,
        health_check_timeout=0.2,
    )
    started = time.monotonic()

    [result] = health.check_now()

    assert time.monotonic() - started < 2.0
    assert result.error is not None and result.error.startswith("APITimeoutError")
    assert changes.calls == [(0, False)]


def test_verdict_changed_by_another_replica_is_reported(
    dead_url: str, fake_clock: FakeClock
) -> None:
    state = InMemoryState()
    instance = openai_instance(dead_url)
    first, _ = make_health([instance], fake_clock, state, failure_threshold=1, recovery_time=60)
    second, changes = make_health(
        [instance], fake_clock, state, failure_threshold=1, recovery_time=60
    )

    first.check_now()

    assert not second.is_healthy(0)
    assert changes.calls == [(0, False)]
    fake_clock.advance(30)
    assert second.check_now() == []  # recovery time counts from when it became unhealthy
    assert changes.calls == [(0, False)]


# --- scale and concurrency ----------------------------------------------------------------------


def test_in_process_instances_are_never_probed(start_sim: StartSim, fake_clock: FakeClock) -> None:
    server = start_sim("healthy")
    instances = [
        openai_instance(server.base_url, name=f"sim{n}")
        if n % 100 == 0
        else mock_instance(f"mock{n}")
        for n in range(1000)
    ]
    state = InMemoryState()
    health, changes = make_health(instances, fake_clock, state)

    results = health.check_now()

    assert sorted(r.instance for r in results) == sorted(f"sim{n}#0" for n in range(0, 1000, 100))
    assert all(r.healthy for r in results)
    assert health.healthy_count == 1000
    assert state.health("pool:p:mock1#0") is None
    assert changes.calls == []


def test_probes_run_concurrently(start_sim: StartSim, fake_clock: FakeClock) -> None:
    server = start_sim("hang")
    instances = [openai_instance(server.base_url, name=f"sim{n}") for n in range(32)]
    health, _ = make_health(instances, fake_clock, failure_threshold=1, health_check_timeout=0.2)
    started = time.monotonic()

    results = health.check_now()

    assert time.monotonic() - started < 32 * 0.2 / 2  # two waves of 16, not 32 timeouts in a row
    assert len(results) == 32
    assert health.healthy_count == 0


# --- async --------------------------------------------------------------------------------------


async def test_acheck_now_gives_the_same_verdicts(
    start_sim: StartSim, dead_url: str, fake_clock: FakeClock
) -> None:
    healthy, failing, hung = start_sim("healthy"), start_sim("error_rate:1.0"), start_sim("hang")
    instances = [
        openai_instance(healthy.base_url, name="healthy"),
        openai_instance(failing.base_url, name="failing"),
        openai_instance(hung.base_url, name="hung"),
        openai_instance(dead_url, name="dead"),
        mock_instance("mock"),
    ]
    settings: dict[str, Any] = {"failure_threshold": 1, "health_check_timeout": 0.2}
    sync_health, sync_changes = make_health(instances, fake_clock, **settings)
    async_health, async_changes = make_health(instances, fake_clock, **settings)

    sync_results = sync_health.check_now()
    async_results = await async_health.acheck_now()

    assert [(r.instance, r.healthy) for r in async_results] == [
        (r.instance, r.healthy) for r in sync_results
    ]
    assert [async_health.is_healthy(i) for i in range(5)] == [True, False, False, False, True]
    assert async_changes.calls == sync_changes.calls == [(1, False), (2, False), (3, False)]

    failing.set_fault(FaultMode.parse("healthy"))
    assert await async_health.acheck_now() == [r for r in async_results if r.healthy]
    fake_clock.advance(60)
    await async_health.acheck_now()

    assert async_health.is_healthy(1)
    assert async_changes.calls[-1] == (1, True)


# --- background thread --------------------------------------------------------------------------


def test_start_runs_rounds_until_stop(start_sim: StartSim) -> None:
    server = start_sim("healthy")
    state = CountingState()
    health, _ = make_health(
        [openai_instance(server.base_url)], MonotonicClock(), state, health_check_interval=0.01
    )

    health.start()
    try:
        health.start()
        assert health.running
        assert health_threads().count("pool-health-p") == 1  # probe workers come and go
        assert state.wait_for_records(2)
    finally:
        health.stop()

    assert not health.running
    assert health_threads() == []
    health.stop()


def test_stop_without_start_is_a_no_op(dead_url: str) -> None:
    health, _ = make_health([openai_instance(dead_url)], MonotonicClock())

    health.stop()

    assert not health.running
    assert health_threads() == []


def test_stop_wakes_a_long_interval_at_once(start_sim: StartSim) -> None:
    server = start_sim("healthy")
    state = CountingState()
    health, _ = make_health(
        [openai_instance(server.base_url)], MonotonicClock(), state, health_check_interval=3600
    )
    health.start()
    assert state.wait_for_records(1)
    started = time.monotonic()

    health.stop()

    assert time.monotonic() - started < 2.0
    assert health_threads() == []


class FlakyState(CountingState):
    """Fails the first health record, as a broken shared store would."""

    def record_health(self, key: str, ok: bool, failure_threshold: int, now: float) -> HealthRecord:
        record = super().record_health(key, ok, failure_threshold, now)
        if self.recorded == 1:
            raise ConnectionError("shared store unreachable")
        return record


def test_a_failing_round_is_logged_and_the_loop_goes_on(
    start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_sim("healthy")
    state = FlakyState()
    health, _ = make_health(
        [openai_instance(server.base_url)], MonotonicClock(), state, health_check_interval=0.01
    )

    with caplog.at_level(logging.ERROR, logger="infrastructure.llm.fleet.pool_health"):
        health.start()
        try:
            assert state.wait_for_records(3)
        finally:
            health.stop()

    assert "health check round of pool 'p' failed" in caplog.text
    assert "shared store unreachable" in caplog.text
    assert health_threads() == []


def test_no_secret_in_logs_results_or_snapshot(
    start_sim: StartSim, dead_url: str, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_sim("error_rate:1.0")
    instances = [
        openai_instance(dead_url, name="dead", api_key=SECRET),
        openai_instance(server.base_url, name="failing", api_key=SECRET),
    ]
    health, _ = make_health(instances, fake_clock, failure_threshold=1)

    with caplog.at_level(logging.DEBUG):
        results = health.check_now()

    assert not health.is_healthy(0) and not health.is_healthy(1)
    assert "probe of dead#0 failed" in caplog.text
    for text in (caplog.text, repr(results), repr(health.snapshot())):
        assert SECRET not in text
