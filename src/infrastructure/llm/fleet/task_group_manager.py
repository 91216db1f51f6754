"""TaskGroupManager: turns loaded config into instances and `group.echelonN` targets."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from infrastructure.llm.cache.cache_builder import CacheStores, build_response_cache
from infrastructure.llm.cache.response_cache import ResponseCache
from infrastructure.llm.clock import Clock, MonotonicClock
from infrastructure.llm.config import FallbackTarget, LLMConfig, TaskGroupConfig, load_config_dir
from infrastructure.llm.config.schema import CacheConfig
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.member import Echelon, Member
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.providers.chat_models import build_chat_models
from infrastructure.llm.providers.embeddings import embeddings_from_registry
from infrastructure.llm.resilience.admission import Gate
from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy, CircuitBreaker
from infrastructure.llm.resilience.limits import Limits
from infrastructure.llm.resilience.state import SharedState
from infrastructure.llm.resilience.state_choice import StateChoice, build_state


class TaskGroupManager:
    """Owns the instances of every model and the targets of every task group.

    Instances are shared by all groups naming the same model; breakers are kept per group
    (each group's `circuit_breaker` settings apply to its own view of an instance), limits
    per echelon and cool-downs per instance. All of that state lives in `state`, so replicas
    can share it: a `SharedState`, a Redis URL, or (None) what the config's `state.yaml` says.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        state: StateChoice = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or MonotonicClock()
        self.state: SharedState = build_state(state, config.state, self.clock)
        self._owns_state = self.state is not state
        self.cache_stores = CacheStores(config.state, self.clock)
        self._instances: dict[str, list[Instance]] = {}
        self._targets: dict[str, list[Target]] = {}
        self._by_provider: dict[str, list[Target]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config_dir(cls, path: str | Path, **kwargs: Any) -> TaskGroupManager:
        return cls(load_config_dir(path), **kwargs)

    def close(self) -> None:
        """Close the cache stores, and the state if this manager built it (a Redis
        connection and its threads)."""
        self.cache_stores.close()
        close = getattr(self.state, "close", None)
        if self._owns_state and close is not None:
            close()

    def response_cache(self, config: CacheConfig | None, route: str) -> ResponseCache | None:
        """The cache of a wrapper routing `route` (None when `config` turns none on)."""
        return build_response_cache(config, route, self.cache_stores, self.embeddings)

    def embeddings(self, model_name: str) -> Embeddings:
        """The embeddings client of a registry model of kind embeddings."""
        return embeddings_from_registry(self.config, model_name)

    def group_names(self) -> list[str]:
        return sorted(self.config.groups)

    def group_config(self, name: str) -> TaskGroupConfig:
        try:
            return self.config.groups[name]
        except KeyError:
            known = ", ".join(self.group_names()) or "none are loaded"
            raise LLMWrapperError(f"unknown task group {name!r} (known groups: {known})") from None

    def split_target(self, target: str) -> tuple[str, int | None]:
        """`"g"` -> `("g", None)`, `"g.echelon2"` -> `("g", 2)`, checking both exist."""
        try:
            parsed = FallbackTarget.parse(target)
        except ValueError as exc:
            raise LLMWrapperError(str(exc)) from None
        group = self.group_config(parsed.group)
        if parsed.echelon is not None and parsed.echelon not in group.echelons:
            have = ", ".join(group.echelon_names())
            raise LLMWrapperError(
                f"task group {group.name!r} has no echelon{parsed.echelon} ({have})"
            )
        return group.name, parsed.echelon

    def targets_of(self, group: str) -> list[Target]:
        """Every echelon of `group` as a target, in echelon order."""
        with self._lock:
            targets = self._targets.get(group)
            if targets is None:
                targets = self._targets[group] = self._build_targets(self.group_config(group))
        return targets

    def provider_targets(self, group: str) -> list[Target]:
        """Every echelon of `group` split by provider: `g.echelon1@openai`, `g.echelon1@mock`..."""
        targets = self._by_provider.get(group)
        if targets is None:
            split = [part for t in self.targets_of(group) for part in t.split_by_provider()]
            targets = self._by_provider.setdefault(group, split)
        return targets

    def target(self, group: str, echelon: int) -> Target:
        for candidate in self.targets_of(group):
            if candidate.echelon.number == echelon:
                return candidate
        raise LLMWrapperError(f"task group {group!r} has no echelon{echelon}")

    def resolve(self, name: str) -> list[Target]:
        """`"g"` -> all echelons of g; `"g.echelonN"` -> that echelon alone."""
        group, echelon = self.split_target(name)
        return self.targets_of(group) if echelon is None else [self.target(group, echelon)]

    def instances(self, model_name: str) -> list[Instance]:
        """The instances of one registry model, built once and shared by every group."""
        instances = self._instances.get(model_name)
        if instances is None:
            model = self.config.models[model_name]
            instances = [
                Instance(
                    id=endpoint.instance_id,
                    model_name=model_name,
                    provider=model.provider,
                    model=model.model,
                    base_url=endpoint.base_url,
                    models=build_chat_models(
                        provider=model.provider,
                        model=model.model,
                        base_url=endpoint.base_url,
                        api_key=endpoint.api_key,
                        params=dict(model.params),
                        async_transport=model.async_transport or "aiohttp",
                    ),
                    weight=endpoint.weight,
                    metrics_url=endpoint.metrics_url,
                )
                for endpoint in model.instances()
            ]
            self._instances[model_name] = instances
        return instances

    def breaker_keys(self, instance_id: str) -> list[str]:
        """The state keys of every breaker instance `instance_id` has (one per task group
        whose echelons use its model); none for an unknown instance."""
        model = next(
            (
                name
                for name, config in self.config.models.items()
                for endpoint in config.instances()
                if endpoint.instance_id == instance_id
            ),
            None,
        )
        return [
            _breaker_key(group.name, instance_id)
            for group in self.config.groups.values()
            if any(model in echelon.models for _, echelon in group.ordered_echelons())
        ]

    def built_targets(self) -> list[Target]:
        """Targets built so far (groups that were used or asked for)."""
        with self._lock:
            return [t for targets in self._targets.values() for t in targets]

    def _build_targets(self, group: TaskGroupConfig) -> list[Target]:
        policy = BreakerPolicy.from_config(group.fallback_config.circuit_breaker)
        targets = []
        for number, config in group.ordered_echelons():
            params: dict[str, Any] = {}
            if config.temperature is not None:
                params["temperature"] = config.temperature
            if config.max_tokens is not None:
                params["max_tokens"] = config.max_tokens
            limits = None
            if config.concurrency_limit is not None or config.rpm_limit is not None:
                key = f"limits:{FallbackTarget(group.name, number)}"
                limits = Limits(key, config.concurrency_limit, config.rpm_limit)
            echelon = Echelon(group.name, number, config, params, limits)
            instances = [i for name in config.models for i in self.instances(name)]
            members = [
                self._member(index, instance, echelon, policy)
                for index, instance in enumerate(instances)
            ]
            targets.append(Target(echelon, members, self.clock))
        return targets

    def _member(
        self, index: int, instance: Instance, echelon: Echelon, policy: BreakerPolicy
    ) -> Member:
        breaker_key = _breaker_key(echelon.group, instance.id)
        gate = Gate(f"cooldown:{instance.id}", breaker_key, policy, echelon.limits)
        breaker = CircuitBreaker(
            breaker_key,
            policy.failure_threshold,
            policy.recovery_time,
            policy.half_open_requests,
            self.state,
            self.clock,
        )
        return Member(index, instance, echelon, gate, breaker)


def _breaker_key(group: str, instance_id: str) -> str:
    """Where the breaker of an instance in a group lives in the state: one per group, since
    each group has its own breaker settings."""
    return f"breaker:{group}:{instance_id}"
