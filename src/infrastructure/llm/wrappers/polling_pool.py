"""PollingPoolWrapper: a polling pool (instances rotated for throughput) as one chat model."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.utils import from_env
from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self

from infrastructure.llm.config.schema import CacheConfig
from infrastructure.llm.config.strategies import PoolFallbackStrategy, RotationStrategy
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.affinity import SESSION_ARGUMENT, affinity_key, session_id
from infrastructure.llm.fleet.health_probe import DEFAULT_PROBE_TIMEOUT, ProbeResult
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.pool import PollingPool
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.engine import Served
from infrastructure.llm.routing.hedging import Hedger
from infrastructure.llm.routing.plan import FallbackPlan
from infrastructure.llm.routing.router import CallRouter
from infrastructure.llm.wrappers.base import BaseLLMWrapper, health_report
from infrastructure.llm.wrappers.offline import offline_model
from infrastructure.llm.wrappers.task_group import CONFIG_DIR_ENV, DEFAULT_CONFIG_DIR

_WRAPPER_SUFFIX = "_wrapper"


class PollingPoolWrapper(BaseLLMWrapper):
    """Sends each call to the pool's next healthy instance; on failure rotates or retries.

    `pool` defaults to the wrapper's name without `_wrapper` (`fast_pool_wrapper` routes
    `fast_pool`). `strategy` and `max_instance_attempts` override the pool's
    `fallback_config`; `deadline` bounds a whole call (default: attempts x the longest timeout);
    `cache_config` overrides the pool's `cache:`.
    Health checks run in the background once started (`start_health_checks()` here, or on
    the factory or manager).
    """

    wrapper_type: ClassVar[str] = "polling_pool"

    pool: str | None = None
    strategy: PoolFallbackStrategy | None = None
    max_instance_attempts: int | None = Field(default=None, ge=1)
    deadline: float | None = Field(default=None, gt=0)
    cache_config: CacheConfig | None = None
    config_dir: str | None = Field(default_factory=from_env(CONFIG_DIR_ENV, default=None))
    task_group_manager: TaskGroupManager | None = Field(default=None, exclude=True, repr=False)
    polling_pool_manager: PollingPoolManager | None = Field(default=None, exclude=True, repr=False)

    _pool: PollingPool = PrivateAttr()

    @model_validator(mode="after")
    def _resolve_pool(self) -> Self:
        if self.pool is None:
            if not (self.name and self.name.endswith(_WRAPPER_SUFFIX)):
                named = f" {self.name!r}" if self.name else ""
                raise LLMWrapperError(
                    f"polling pool wrapper{named} does not say which pool it routes: pass "
                    "pool='name', or name the wrapper '<pool>_wrapper'"
                )
            self.pool = self.name[: -len(_WRAPPER_SUFFIX)]
        if self.polling_pool_manager is None:
            if self.task_group_manager is None:
                directory = Path(self.config_dir or DEFAULT_CONFIG_DIR)
                self.task_group_manager = TaskGroupManager.from_config_dir(directory)
            self.polling_pool_manager = PollingPoolManager(self.task_group_manager)
        self.task_group_manager = self.polling_pool_manager.task_group_manager
        if self.name is None:
            self.name = f"{self.pool}{_WRAPPER_SUFFIX}"
        self._pool = self.polling_pool_manager.pool(self.pool)
        config = self._pool.config
        self.strategy = self.strategy or config.fallback_config.strategy
        attempts = self.max_instance_attempts or config.fallback_config.max_instance_attempts
        self.max_instance_attempts = attempts
        self._router  # noqa: B018  # build it now, so errors show at construction
        return self

    def _build_router(self) -> CallRouter:
        pool, manager = self._pool, self.task_group_manager
        assert manager is not None and self.strategy is not None
        attempts = self.max_instance_attempts or 1
        longest = max((m.echelon.config.timeout for m in pool.members), default=30.0)
        plan = FallbackPlan.for_pool(
            pool, self.strategy, attempts, self.deadline or attempts * longest
        )
        hedger = Hedger(pool.config.hedging, manager.clock) if pool.config.hedging else None
        cache = manager.response_cache(self.cache_config or pool.config.cache, pool.name)
        name = self.name or pool.name
        offline = offline_model(pool.config.offline_fallback)
        return CallRouter(
            plan, manager.state, manager.clock, hedger, cache=cache, name=name, offline=offline
        )

    @property
    def _llm_type(self) -> str:
        return "polling-pool-wrapper"

    @property
    def routed_name(self) -> str:
        return self.pool  # type: ignore[return-value]  # set by the validator

    def routed_instances(self) -> list[Instance]:
        return [m.instance for m in self._pool.members]

    # -- prefix_affinity: the call's key --------------------------------------------------------

    @cached_property
    def _affinity_prefix_chars(self) -> int | None:
        """How much of a prompt the affinity key hashes; None unless the pool places calls by
        one (read on every call: a cached property, not the pydantic private `_pool`)."""
        config = self._pool.config
        if config.rotation_strategy is RotationStrategy.PREFIX_AFFINITY:
            return config.affinity_prefix_chars
        return None

    def _affinity(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str | None:
        session = kwargs.pop(SESSION_ARGUMENT, None)
        prefix_chars = self._affinity_prefix_chars
        if prefix_chars is None:
            return None
        return affinity_key(messages, session, prefix_chars)

    def _call_arguments(
        self, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """`kwargs` with the call's session id added for `_affinity` (prefix_affinity pools);
        a call made inside a graph or chain without a config of its own has the caller's."""
        if self._affinity_prefix_chars is None:
            return kwargs
        session = session_id(ensure_config(config))
        return kwargs if session is None else {**kwargs, SESSION_ARGUMENT: session}

    def start_health_checks(self) -> None:
        """Check this pool's instances in the background every `health_check_interval`."""
        self._pool.start_polling()

    def stop_health_checks(self) -> None:
        self._pool.stop_polling()

    def health_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Run one round of the pool's health checks now and report what its probes found.

        Each instance's `in_rotation` says whether calls go to it: an instance leaves the
        rotation only after `failure_threshold` failed rounds. `timeout` is unused: probes use
        the pool's `health_check_timeout`.
        """
        return self._health_report(self._pool.health.check_now())

    async def ahealth_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Async twin of `health_check`."""
        return self._health_report(await self._pool.health.acheck_now())

    def _health_report(self, probed: list[ProbeResult]) -> dict[str, Any]:
        """This round's probe results; an instance not probed now (in-process, or unhealthy
        and waiting out `recovery_time`) keeps its last verdict."""
        found = {result.instance: result for result in probed}
        verdicts = self._pool.health.snapshot()
        results = [
            found.get(name)
            or ProbeResult(
                name, v["healthy"], None if v["healthy"] else "unhealthy since last probe"
            )
            for name, v in verdicts.items()
        ]
        report = health_report(results)
        for name, entry in report["instances"].items():
            entry["in_rotation"] = verdicts[name]["healthy"]
        return report

    def get_stats(self) -> dict[str, Any]:
        stats = super().get_stats()
        stats["type"] = "polling_pool"
        stats["strategy"] = self.strategy
        stats["rotation_strategy"] = self._pool.config.rotation_strategy
        stats["healthy_instances"] = self._pool.health.healthy_count
        stats["total_instances"] = len(self._pool.members)
        stats["health"] = self._pool.health.snapshot()
        stats["breakers"] = self._pool.breaker_states()
        return stats

    def _routing_metadata(
        self, served: Served[Any], record: CallRecord, started: float
    ) -> dict[str, Any]:
        metadata = super()._routing_metadata(served, record, started)
        metadata["pool"] = served.candidates.name
        return metadata

    def _unserved_metadata(self, started: float) -> dict[str, Any]:
        metadata = super()._unserved_metadata(started)
        metadata["pool"] = self.pool
        return metadata
