"""LLMWrapperFactory: creates wrappers by name, caches them, and reports on all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.schema import CacheConfig
from infrastructure.llm.config.validation import validation_issues
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.state_choice import StateChoice
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.wrappers.base import BaseLLMWrapper
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

_TASK_GROUP_OPTIONS = frozenset(
    {"target", "fallback_groups", "strategy", "max_attempts", "deadline", "cache"}
)
_POOL_OPTIONS = frozenset({"pool", "strategy", "max_instance_attempts", "deadline", "cache"})


class LLMWrapperFactory:
    """Registry of named wrappers sharing one set of managers (and so one set of breakers)."""

    def __init__(
        self,
        task_group_manager: TaskGroupManager,
        polling_pool_manager: PollingPoolManager | None = None,
        fallback_manager: EnhancedFallbackManager | None = None,
    ) -> None:
        self.task_group_manager = task_group_manager
        self.polling_pool_manager = polling_pool_manager or PollingPoolManager(task_group_manager)
        self.fallback_manager = fallback_manager or EnhancedFallbackManager(task_group_manager)
        self._wrappers: dict[str, BaseLLMWrapper] = {}

    @classmethod
    def from_config_dir(
        cls,
        path: str | Path,
        *,
        state: StateChoice = None,
        clock: Clock | None = None,
    ) -> LLMWrapperFactory:
        """Load a config directory; register `<group>_wrapper` and `<pool>_wrapper` for all.

        `state` is where limits, breakers, cool-downs and health live: a `SharedState`, a
        Redis URL (`redis://...`), or None for what the directory's `state.yaml` says (in
        memory without one). The argument wins over the file.
        """
        manager = TaskGroupManager.from_config_dir(path, state=state, clock=clock)
        factory = cls(manager)
        for group in manager.group_names():
            factory.create_task_group_wrapper(f"{group}_wrapper", {"target": group})
        for pool in factory.polling_pool_manager.pool_names():
            factory.create_polling_pool_wrapper(f"{pool}_wrapper", {"pool": pool})
        return factory

    def create_task_group_wrapper(
        self, name: str, config: dict[str, Any] | None = None
    ) -> TaskGroupWrapper:
        """Create and register a wrapper; `config` takes `target` plus fallback overrides."""
        options = _options(name, config, _TASK_GROUP_OPTIONS)
        if "target" not in options:
            raise LLMWrapperError(f"wrapper {name!r}: config needs a 'target' ('group.echelonN')")
        self._check_free(name)
        wrapper = TaskGroupWrapper(
            name=name,
            task_group_manager=self.task_group_manager,
            fallback_manager=self.fallback_manager,
            **options,
        )
        self._wrappers[name] = wrapper
        return wrapper

    def create_polling_pool_wrapper(
        self, name: str, config: dict[str, Any] | None = None
    ) -> PollingPoolWrapper:
        """Create and register a pool wrapper; `config` may name the `pool` (default: `name`
        without `_wrapper`) and override `strategy`, `max_instance_attempts` and `deadline`."""
        options = _options(name, config, _POOL_OPTIONS)
        self._check_free(name)
        wrapper = PollingPoolWrapper(
            name=name, polling_pool_manager=self.polling_pool_manager, **options
        )
        self._wrappers[name] = wrapper
        return wrapper

    def task_group_wrapper_for(self, target: str) -> TaskGroupWrapper:
        """The wrapper `<target>_wrapper` for a task group target, created on first use."""
        name = f"{target}_wrapper"
        wrapper = self._wrappers.get(name)
        if wrapper is None:
            return self.create_task_group_wrapper(name, {"target": target})
        if not isinstance(wrapper, TaskGroupWrapper):
            raise LLMWrapperError(f"wrapper {name!r} exists but is not a task group wrapper")
        return wrapper

    def polling_pool_wrapper_for(self, pool: str) -> PollingPoolWrapper:
        """The wrapper `<pool>_wrapper` for a polling pool, created on first use."""
        name = f"{pool}_wrapper"
        wrapper = self._wrappers.get(name)
        if wrapper is None:
            return self.create_polling_pool_wrapper(name, {"pool": pool})
        if not isinstance(wrapper, PollingPoolWrapper):
            raise LLMWrapperError(f"wrapper {name!r} exists but is not a polling pool wrapper")
        return wrapper

    def start_health_checks(self) -> None:
        """Start background health checks for every polling pool."""
        self.polling_pool_manager.start_health_checks()

    def stop_health_checks(self) -> None:
        self.polling_pool_manager.stop_health_checks()

    def register_metrics(self, registry: Any = None) -> Any:
        """Expose this factory's wrappers as Prometheus metrics in `registry` (a new
        `CollectorRegistry` when None) and return it; needs the `metrics` extra."""
        try:
            from prometheus_client import CollectorRegistry

            from infrastructure.llm.observability.metrics import FleetCollector
        except ImportError:
            raise LLMWrapperError(
                "metrics need prometheus_client: pip install 'langchain-llm-wrappers[metrics]'"
            ) from None
        registry = CollectorRegistry() if registry is None else registry
        registry.register(FleetCollector(lambda: list(self._wrappers.values())))
        return registry

    def serve_metrics(self, port: int, addr: str = "127.0.0.1", registry: Any = None) -> Any:
        """Serve the metrics at `http://addr:port/metrics` from a background thread; returns
        the server (`.shutdown()` stops it). `port` 0 picks a free one (`.server_port`)."""
        from prometheus_client import start_http_server

        server, _ = start_http_server(port, addr, self.register_metrics(registry))
        return server

    def __enter__(self) -> LLMWrapperFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop health checks, and close the shared state if the factory built it."""
        self.stop_health_checks()
        self.task_group_manager.close()

    def get_wrapper(self, name: str) -> BaseLLMWrapper:
        try:
            return self._wrappers[name]
        except KeyError:
            known = ", ".join(sorted(self._wrappers)) or "none registered"
            raise LLMWrapperError(f"no wrapper named {name!r} (known: {known})") from None

    def has_wrapper(self, name: str) -> bool:
        return name in self._wrappers

    def list_wrappers(self) -> list[str]:
        return sorted(self._wrappers)

    def remove_wrapper(self, name: str) -> None:
        self.get_wrapper(name)
        del self._wrappers[name]

    def get_wrapper_stats(self) -> dict[str, Any]:
        types: dict[str, int] = {}
        for wrapper in self._wrappers.values():
            types[wrapper.wrapper_type] = types.get(wrapper.wrapper_type, 0) + 1
        return {
            "total_wrappers": len(self._wrappers),
            "wrapper_types": types,
            "wrappers": {name: w.get_stats() for name, w in self._wrappers.items()},
        }

    def get_fallback_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Recent hops of every task-group wrapper of this factory, oldest first (each
        wrapper's `get_fallback_history()` shows its own calls only)."""
        return self.fallback_manager.get_fallback_history(limit)

    def health_check_all(self) -> dict[str, dict[str, Any]]:
        """Probe the instances behind every wrapper now."""
        return {name: w.health_check() for name, w in self._wrappers.items()}

    def _check_free(self, name: str) -> None:
        if name in self._wrappers:
            raise LLMWrapperError(
                f"a wrapper named {name!r} already exists; use get_wrapper({name!r})"
            )


def _options(name: str, config: dict[str, Any] | None, allowed: frozenset[str]) -> dict[str, Any]:
    """A wrapper's config as its fields: unknown keys refused, a `cache:` section validated
    as in a group file."""
    options = dict(config or {})
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise LLMWrapperError(
            f"wrapper {name!r}: unknown option(s) {unknown}; expected some of {sorted(allowed)}"
        )
    if options.get("cache") is not None:
        options["cache_config"] = _cache_config(name, options.pop("cache"))
    else:
        options.pop("cache", None)
    return options


def _cache_config(name: str, section: Any) -> CacheConfig:
    try:
        return CacheConfig.model_validate(section)
    except ValidationError as error:
        issues = validation_issues(error, "", CacheConfig)
        problems = "; ".join(f"cache.{issue.path}: {issue.message}" for issue in issues)
        raise LLMWrapperError(f"wrapper {name!r}: {problems}") from None
