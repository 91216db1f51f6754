"""Seed 004's import path for `TaskGroupManager` (defined in `fleet.task_group_manager`)."""

from infrastructure.llm.fleet.task_group_manager import TaskGroupManager

__all__ = ["TaskGroupManager"]
