"""Seed 004's import path for `PollingPoolManager` (defined in `fleet.polling_pool_manager`)."""

from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager

__all__ = ["PollingPoolManager"]
