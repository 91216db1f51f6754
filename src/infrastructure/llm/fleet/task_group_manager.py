"""TaskGroupManager: turns loaded config into instances and `group.echelonN` targets."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from infrastructure.llm.clock import Clock, MonotonicClock
from infrastructure.llm.config import LLMConfig, TaskGroupConfig, load_config_dir
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.providers.chat_models import build_chat_model
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker
from infrastructure.llm.resilience.limits import EchelonLimiter
from infrastructure.llm.resilience.state import InMemoryState, SharedState

_TARGET = re.compile(r"^(?P<group>[^.]+)(?:\.echelon(?P<echelon>\d+))?$")


class TaskGroupManager:
    """Owns the instances of every model and the targets of every task group.

    Instances are shared by all groups naming the same model; breakers are kept per group
    (each group's `circuit_breaker` settings apply to its own view of an instance), and
    limits per echelon. All of that state lives in `state`, so replicas can share it.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        state: SharedState | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.state: SharedState = state or InMemoryState()
        self.clock: Clock = clock or MonotonicClock()
        self._instances: dict[str, list[Instance]] = {}
        self._targets: dict[str, list[Target]] = {}
        self._by_provider: dict[str, list[Target]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config_dir(cls, path: str | Path, **kwargs: Any) -> TaskGroupManager:
        return cls(load_config_dir(path), **kwargs)

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
        match = _TARGET.match(target)
        if not match:
            raise LLMWrapperError(
                f"target {target!r} is not of the form 'group' or 'group.echelonN'"
            )
        group = self.group_config(match["group"])
        if match["echelon"] is None:
            return group.name, None
        echelon = int(match["echelon"])
        if echelon not in group.echelons:
            have = ", ".join(f"echelon{n}" for n in sorted(group.echelons))
            raise LLMWrapperError(f"task group {group.name!r} has no echelon{echelon} ({have})")
        return group.name, echelon

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
            if candidate.echelon == echelon:
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
                    chat_model=build_chat_model(
                        provider=model.provider,
                        model=model.model,
                        base_url=endpoint.base_url,
                        api_key=endpoint.api_key,
                        params=dict(model.params),
                    ),
                    weight=endpoint.weight,
                )
                for endpoint in model.instances()
            ]
            self._instances[model_name] = instances
        return instances

    def built_targets(self) -> list[Target]:
        """Targets built so far (groups that were used or asked for)."""
        with self._lock:
            return [t for targets in self._targets.values() for t in targets]

    def _build_targets(self, group: TaskGroupConfig) -> list[Target]:
        breaker_config = group.fallback_config.circuit_breaker
        targets = []
        for number, echelon in sorted(group.echelons.items()):
            instances = [i for name in echelon.models for i in self.instances(name)]
            params: dict[str, Any] = {}
            if echelon.temperature is not None:
                params["temperature"] = echelon.temperature
            if echelon.max_tokens is not None:
                params["max_tokens"] = echelon.max_tokens
            targets.append(
                Target(
                    group=group.name,
                    echelon=number,
                    config=echelon,
                    instances=instances,
                    breakers=[
                        CircuitBreaker.from_config(
                            f"breaker:{group.name}:{inst.id}",
                            breaker_config,
                            self.state,
                            self.clock,
                        )
                        for inst in instances
                    ],
                    limiter=EchelonLimiter(
                        f"limits:{group.name}.echelon{number}",
                        echelon.concurrency_limit,
                        echelon.rpm_limit,
                        self.state,
                        self.clock,
                    ),
                    call_params=params,
                )
            )
        return targets
