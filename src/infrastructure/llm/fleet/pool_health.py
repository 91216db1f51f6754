"""Background health checks of a polling pool: periodic cheap probes, verdicts in shared state.

Verdicts live in `SharedState` under `pool:<pool>:<instance id>`, so every replica sees the same
health. Background rounds claim each probe in the state first (`claim_probe`), so replicas
sharing a state probe each instance about once per interval between them, not once each; every
replica still reads every verdict each round. What stays local is when this object may probe
an unhealthy instance again, and which verdict it last reported to `on_change`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.schema import PollingPoolConfig
from infrastructure.llm.fleet.health_probe import ProbeResult, aprobe_path, is_probed, probe_path
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.periodic import Periodic
from infrastructure.llm.resilience.state import HealthRecord, SharedState

logger = logging.getLogger(__name__)

# Probes in flight at once: a round over N instances takes about N / this many timeouts.
MAX_CONCURRENT_PROBES = 16


class PoolHealth:
    """Health of a pool's instances from periodic cheap probes (GET health_check_path)."""

    def __init__(
        self,
        pool_name: str,
        instances: Sequence[Instance],
        config: PollingPoolConfig,
        state: SharedState,
        clock: Clock,
        on_change: Callable[[int, bool], None] | None = None,
    ) -> None:
        self._pool_name = pool_name
        self._instances = list(instances)
        self._config = config
        self._state = state
        self._clock = clock
        self._on_change = on_change
        self._keys = [f"pool:{pool_name}:{instance.id}" for instance in self._instances]
        self._probed = [index for index, i in enumerate(self._instances) if is_probed(i)]
        self._known = [True] * len(self._instances)  # the verdict last reported to on_change
        self._not_before = [0.0] * len(self._instances)  # no re-probe while unhealthy before
        self._lock = threading.Lock()
        self._rounds = Periodic(
            f"pool-health-{pool_name}",
            config.health_check_interval,
            lambda stop: self._check(stop, claim=True),
            f"health check round of pool {pool_name!r}",
            logger,
        )

    def is_healthy(self, index: int) -> bool:
        """The shared verdict on instance `index`; never-checked and in-process ones are healthy."""
        if not is_probed(self._instances[index]):
            return True
        record = self._read(index)
        return record is None or record.healthy

    @property
    def healthy_count(self) -> int:
        """How many instances are healthy now."""
        return sum(self.is_healthy(index) for index in range(len(self._instances)))

    def check_now(self, claim: bool = False) -> list[ProbeResult]:
        """Probe every instance that is due, concurrently; returns the results of those probed.

        With `claim`, as background rounds do, only the instances this replica claims in the
        shared state for the next `health_check_interval` are probed, so replicas sharing a
        state do not multiply probes.
        """
        return self._check(None, claim)

    async def acheck_now(self) -> list[ProbeResult]:
        """Async twin of `check_now`: probes run on the event loop, a bounded number at once."""
        limit = asyncio.Semaphore(MAX_CONCURRENT_PROBES)

        async def probe_one(index: int) -> ProbeResult:
            async with limit:
                result = await aprobe_path(
                    self._instances[index],
                    self._config.health_check_path,
                    self._config.health_check_timeout,
                )
            self._record(index, result)
            return result

        results = await asyncio.gather(*(probe_one(index) for index in self._due()))
        self._refresh()
        return list(results)

    def start(self) -> None:
        """Check every `health_check_interval` seconds on a daemon thread; idempotent."""
        self._rounds.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background checks and wait up to `timeout` for the thread; idempotent.

        Probes not yet started are skipped, so the thread ends within one probe timeout.
        """
        if not self._rounds.stop(timeout):
            logger.warning(
                "health checks of pool %r still finishing a probe after %.1fs",
                self._pool_name,
                timeout,
            )

    @property
    def running(self) -> bool:
        """Whether the background checks are running."""
        return self._rounds.running

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Instance id -> {"healthy", "consecutive_failures", "since"} (`since` None: unchecked)."""
        report: dict[str, dict[str, Any]] = {}
        for index, instance in enumerate(self._instances):
            record = self._read(index) if is_probed(instance) else None
            report[instance.id] = {
                "healthy": record is None or record.healthy,
                "consecutive_failures": record.consecutive_failures if record else 0,
                "since": record.since if record else None,
            }
        return report

    def _check(self, stop: threading.Event | None, claim: bool = False) -> list[ProbeResult]:
        """One round on a bounded thread pool; probes not started once `stop` is set are skipped.
        With `claim`, only the probes this replica claims in the shared state are made."""

        def probe_one(index: int) -> ProbeResult | None:
            if stop is not None and stop.is_set():
                return None
            result = probe_path(
                self._instances[index],
                self._config.health_check_path,
                self._config.health_check_timeout,
            )
            self._record(index, result)
            return result

        due = self._due(claim)
        results: list[ProbeResult | None] = []
        if due:
            with ThreadPoolExecutor(
                max_workers=min(MAX_CONCURRENT_PROBES, len(due)),
                thread_name_prefix=f"pool-health-{self._pool_name}-probe",
            ) as executor:
                results = list(executor.map(probe_one, due))
        self._refresh()
        return [result for result in results if result is not None]

    def _due(self, claim: bool = False) -> list[int]:
        """The probed instances a check may probe now (with `claim`: and that no other replica
        sharing the state probes this interval)."""
        now = self._clock.now()
        due = [index for index in self._probed if self._is_due(index, now)]
        if not claim:
            return due
        interval = self._config.health_check_interval
        return [i for i in due if self._state.claim_probe(self._keys[i], interval, now)]

    def _is_due(self, index: int, now: float) -> bool:
        """Healthy, or unhealthy for `recovery_time` since it turned and since its last failure."""
        record = self._state.health(self._keys[index])
        if record is None or record.healthy:
            return True
        return now >= max(self._not_before[index], record.since + self._config.recovery_time)

    def _record(self, index: int, result: ProbeResult) -> None:
        """Store one probe result; a failure holds the next re-probe back by recovery_time."""
        now = self._clock.now()
        self._state.record_health(
            self._keys[index], result.healthy, self._config.failure_threshold, now=now
        )
        if not result.healthy:
            self._not_before[index] = now + self._config.recovery_time
            logger.debug(
                "pool %r: probe of %s failed: %s", self._pool_name, result.instance, result.error
            )

    def _refresh(self) -> None:
        """Read every probed verdict, so flips made here or by other replicas are reported."""
        for index in self._probed:
            self._read(index)

    def _read(self, index: int) -> HealthRecord | None:
        """The shared record of instance `index`; reports a verdict that differs from the last."""
        record = self._state.health(self._keys[index])
        healthy = record is None or record.healthy
        with self._lock:
            if self._known[index] == healthy:
                return record
            self._known[index] = healthy
        instance = self._instances[index].id
        if healthy:
            logger.info("pool %r: instance %s is healthy again", self._pool_name, instance)
        else:
            logger.info("pool %r: instance %s is unhealthy", self._pool_name, instance)
        if self._on_change is not None:
            self._on_change(index, healthy)
        return record
