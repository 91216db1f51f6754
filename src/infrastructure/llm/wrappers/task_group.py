"""TaskGroupWrapper: a task group (echelons plus fallback chain) as one chat model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from langchain_core.utils import from_env
from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self

from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.routing.attempts import Served
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.fallback import EnhancedFallbackManager, FallbackPlan
from infrastructure.llm.routing.hedging import Hedger
from infrastructure.llm.wrappers.base import BaseLLMWrapper

T = TypeVar("T")

DEFAULT_CONFIG_DIR = "configs/llms"
CONFIG_DIR_ENV = "LLM_WRAPPERS_CONFIG_DIR"


class TaskGroupWrapper(BaseLLMWrapper):
    """Routes each call through `target`'s echelons and fallback groups.

    Build it from a `TaskGroupManager` (what `LLMWrapperFactory` does) or from `config_dir`
    (default: `$LLM_WRAPPERS_CONFIG_DIR`, else `configs/llms`).
    `fallback_groups`, `strategy`, `max_attempts` and `deadline` override the group's
    `fallback_config` for this wrapper only.
    """

    wrapper_type: ClassVar[str] = "task_group"

    target: str
    fallback_groups: list[str] | None = None
    strategy: str | None = None
    max_attempts: int | None = Field(default=None, ge=1)
    deadline: float | None = Field(default=None, gt=0)
    config_dir: str | None = Field(default_factory=from_env(CONFIG_DIR_ENV, default=None))
    task_group_manager: TaskGroupManager | None = Field(default=None, exclude=True, repr=False)
    fallback_manager: EnhancedFallbackManager | None = Field(default=None, exclude=True, repr=False)

    _plan: FallbackPlan = PrivateAttr()

    @model_validator(mode="after")
    def _resolve_plan(self) -> Self:
        if self.task_group_manager is None:
            directory = Path(self.config_dir or DEFAULT_CONFIG_DIR)
            self.task_group_manager = TaskGroupManager.from_config_dir(directory)
        if self.fallback_manager is None:
            self.fallback_manager = EnhancedFallbackManager(self.task_group_manager)
        if self.name is None:
            self.name = f"{self.target}_wrapper"
        self._plan = self.fallback_manager.plan(
            self.target,
            fallback_groups=self.fallback_groups,
            strategy=self.strategy,
            max_attempts=self.max_attempts,
            deadline=self.deadline,
        )
        group, _ = self.task_group_manager.split_target(self.target)
        hedging = self.task_group_manager.group_config(group).fallback_config.hedging
        self._hedger = Hedger(hedging) if hedging else None
        return self

    @property
    def _llm_type(self) -> str:
        return "task-group-wrapper"

    @property
    def routed_name(self) -> str:
        return self.target

    def routed_instances(self) -> list[Instance]:
        unique = {i.id: i for t in self._plan.targets for i in t.instances}
        return list(unique.values())

    @property
    def plan(self) -> FallbackPlan:
        """The targets this wrapper tries, in order."""
        return self._plan

    def _start_call(self) -> CallRecord:
        assert self.task_group_manager is not None
        return CallRecord(Deadline(self.task_group_manager.clock, self._plan.deadline))

    def _route(
        self, record: CallRecord, op: Callable[[Target, Instance, float], T], *, streaming: bool
    ) -> Served[T]:
        assert self.fallback_manager is not None
        return self.fallback_manager.run(self._plan, record, op, streaming=streaming)

    async def _aroute(
        self,
        record: CallRecord,
        op: Callable[[Target, Instance, float], Awaitable[T]],
        *,
        streaming: bool,
    ) -> Served[T]:
        assert self.fallback_manager is not None
        return await self.fallback_manager.arun(self._plan, record, op, streaming=streaming)

    def get_fallback_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Recent hops (time, from, to, reason, error type) recorded by the fallback manager."""
        assert self.fallback_manager is not None
        return self.fallback_manager.get_fallback_history(limit)

    def get_stats(self) -> dict[str, Any]:
        stats = super().get_stats()
        stats["type"] = "task_group"
        stats["targets"] = [t.name for t in self._plan.targets]
        stats["breakers"] = {t.name: t.breaker_states() for t in self._plan.targets}
        return stats
