"""PollingPoolManager: builds polling pools from config and runs their health checks."""

from __future__ import annotations

import threading
from typing import Any

from infrastructure.llm.config import PollingPoolConfig
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.fleet.pool import PollingPool
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager


class PollingPoolManager:
    """Owns one `PollingPool` per configured pool, built on first use.

    A pool's members are the instances of its task groups (or single echelons), each listed
    once, in config order; they share breakers and limits with those task groups.
    """

    def __init__(self, task_group_manager: TaskGroupManager) -> None:
        self.task_group_manager = task_group_manager
        self._pools: dict[str, PollingPool] = {}
        self._lock = threading.Lock()

    def pool_names(self) -> list[str]:
        return sorted(self.task_group_manager.config.pools)

    def pool_config(self, name: str) -> PollingPoolConfig:
        try:
            return self.task_group_manager.config.pools[name]
        except KeyError:
            known = ", ".join(self.pool_names()) or "none are loaded"
            raise LLMWrapperError(f"unknown polling pool {name!r} (known pools: {known})") from None

    def pool(self, name: str) -> PollingPool:
        """The pool named `name`, built once."""
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = self._build(self.pool_config(name))
        return pool

    def built_pools(self) -> list[PollingPool]:
        with self._lock:
            return list(self._pools.values())

    def start_health_checks(self, names: list[str] | None = None) -> None:
        """Start background health checks (and a least_loaded pool's metrics scrapes) for the
        named pools (default: every pool)."""
        for name in self.pool_names() if names is None else names:
            self.pool(name).start_polling()

    def stop_health_checks(self) -> None:
        """Stop every running health check and wait for its thread to end."""
        for pool in self.built_pools():
            pool.stop_polling()

    def health(self) -> dict[str, dict[str, Any]]:
        """Per built pool: healthy and total instance counts, and each instance's record."""
        return {
            pool.name: {
                "healthy_instances": pool.health.healthy_count,
                "total_instances": len(pool.members),
                "checks_running": pool.health.running,
                "instances": pool.health.snapshot(),
            }
            for pool in self.built_pools()
        }

    def _build(self, config: PollingPoolConfig) -> PollingPool:
        members: list[Member] = []
        seen: set[str] = set()
        for name in config.task_groups:
            for target in self.task_group_manager.resolve(name):
                for member in target.members:
                    if member.instance.id not in seen:
                        seen.add(member.instance.id)
                        members.append(member.moved_to(len(members)))
        manager = self.task_group_manager
        return PollingPool(config, members, manager.state, manager.clock)
