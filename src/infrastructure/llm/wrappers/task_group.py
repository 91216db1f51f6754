"""TaskGroupWrapper: a task group (echelons plus fallback chain) as one chat model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from langchain_core.utils import from_env
from pydantic import Field, model_validator
from typing_extensions import Self

from infrastructure.llm.config.location import CONFIG_DIR_ENV, DEFAULT_CONFIG_DIR
from infrastructure.llm.config.schema import CacheConfig
from infrastructure.llm.config.strategies import FallbackStrategy
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.routing.fallback import EnhancedFallbackManager
from infrastructure.llm.routing.hedging import Hedger
from infrastructure.llm.routing.plan import FallbackPlan
from infrastructure.llm.routing.router import CallRouter
from infrastructure.llm.wrappers.base import BaseLLMWrapper
from infrastructure.llm.wrappers.offline import offline_model


class TaskGroupWrapper(BaseLLMWrapper):
    """Routes each call through `target`'s echelons and fallback groups.

    Build it from a `TaskGroupManager` (what `LLMWrapperFactory` does) or from `config_dir`
    (default: `$LLM_WRAPPERS_CONFIG_DIR`, else `configs/llms`).
    `fallback_groups`, `strategy`, `max_attempts` and `deadline` override the group's
    `fallback_config` for this wrapper only, and `cache_config` the group's `cache:`. A
    `fallback_groups` list replaces the group's fallback order: the target's echelon, then
    exactly the listed targets.
    """

    wrapper_type: ClassVar[str] = "task_group"

    target: str
    fallback_groups: list[str] | None = None
    strategy: FallbackStrategy | None = None
    max_attempts: int | None = Field(default=None, ge=1)
    deadline: float | None = Field(default=None, gt=0)
    cache_config: CacheConfig | None = None
    config_dir: str | None = Field(default_factory=from_env(CONFIG_DIR_ENV, default=None))
    task_group_manager: TaskGroupManager | None = Field(default=None, exclude=True, repr=False)
    fallback_manager: EnhancedFallbackManager | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="after")
    def _resolve_plan(self) -> Self:
        if self.task_group_manager is None:
            directory = Path(self.config_dir or DEFAULT_CONFIG_DIR)
            self.task_group_manager = TaskGroupManager.from_config_dir(directory)
        manager = self.task_group_manager
        if self.fallback_manager is None:
            self.fallback_manager = EnhancedFallbackManager(manager)
        if self.name is None:
            self.name = f"{self.target}_wrapper"
        self._router  # noqa: B018  # build the plan now: a bad target fails here, not later
        return self

    def _build_router(self) -> CallRouter:
        manager, fallback_manager = self.task_group_manager, self.fallback_manager
        assert manager is not None and fallback_manager is not None
        plan = fallback_manager.plan(
            self.target,
            fallback_groups=self.fallback_groups,
            strategy=self.strategy,
            max_attempts=self.max_attempts,
            deadline=self.deadline,
        )
        group, _ = manager.split_target(self.target)
        config = manager.group_config(group)
        hedging = config.fallback_config.hedging
        return CallRouter(
            plan,
            manager.state,
            manager.clock,
            Hedger(hedging, manager.clock) if hedging else None,
            shared_history=fallback_manager,
            cache=manager.response_cache(self.cache_config or config.cache, self.target),
            name=self.name or self.target,
            offline=offline_model(config.offline_fallback),
        )

    @property
    def _llm_type(self) -> str:
        return "task-group-wrapper"

    @property
    def routed_name(self) -> str:
        return self.target

    def routed_instances(self) -> list[Instance]:
        unique = {i.id: i for t in self.plan.targets for i in t.instances}
        return list(unique.values())

    @property
    def plan(self) -> FallbackPlan:
        """The targets this wrapper tries, in order."""
        return self._router.plan

    def get_stats(self) -> dict[str, Any]:
        stats = super().get_stats()
        stats["type"] = "task_group"
        stats["targets"] = [t.name for t in self.plan.targets]
        stats["breakers"] = {t.name: t.breaker_states() for t in self.plan.targets}
        return stats
