"""Resilient routing across fleets of chat models, exposed as LangChain chat models.

The public names load on first use (PEP 562), so `import infrastructure.llm` stays cheap
and `openai`, `langchain_openai` and `langgraph` are imported only by what needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infrastructure.graph.error_handler import ErrorHandler
    from infrastructure.llm.config import (
        BackoffConfig,
        CircuitBreakerConfig,
        EchelonConfig,
        FallbackConfig,
        HedgingConfig,
        LLMConfig,
        ModelConfig,
        PollingPoolConfig,
        PollingPoolFallbackConfig,
        TaskGroupConfig,
        load_config_dir,
    )
    from infrastructure.llm.errors import (
        AllTargetsFailedError,
        CircuitOpenError,
        ConfigError,
        DeadlineExceededError,
        LLMWrapperError,
        MigrationError,
        NoCapacityError,
        StreamInterruptedError,
    )
    from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
    from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
    from infrastructure.llm.migration import ConfigMigrator
    from infrastructure.llm.routing.fallback import EnhancedFallbackManager
    from infrastructure.llm.wrappers.base import BaseLLMWrapper
    from infrastructure.llm.wrappers.factory import LLMWrapperFactory
    from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
    from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

# Each public name and the module that defines it; the TYPE_CHECKING imports above and
# `__all__` below say the same for type checkers (a unit test keeps the three in step).
_EXPORTS: dict[str, str] = {
    "AllTargetsFailedError": "infrastructure.llm.errors",
    "BackoffConfig": "infrastructure.llm.config",
    "BaseLLMWrapper": "infrastructure.llm.wrappers.base",
    "CircuitBreakerConfig": "infrastructure.llm.config",
    "CircuitOpenError": "infrastructure.llm.errors",
    "ConfigError": "infrastructure.llm.errors",
    "ConfigMigrator": "infrastructure.llm.migration",
    "DeadlineExceededError": "infrastructure.llm.errors",
    "EchelonConfig": "infrastructure.llm.config",
    "EnhancedFallbackManager": "infrastructure.llm.routing.fallback",
    "ErrorHandler": "infrastructure.graph.error_handler",
    "FallbackConfig": "infrastructure.llm.config",
    "HedgingConfig": "infrastructure.llm.config",
    "LLMConfig": "infrastructure.llm.config",
    "LLMWrapperError": "infrastructure.llm.errors",
    "LLMWrapperFactory": "infrastructure.llm.wrappers.factory",
    "MigrationError": "infrastructure.llm.errors",
    "ModelConfig": "infrastructure.llm.config",
    "NoCapacityError": "infrastructure.llm.errors",
    "PollingPoolConfig": "infrastructure.llm.config",
    "PollingPoolFallbackConfig": "infrastructure.llm.config",
    "PollingPoolManager": "infrastructure.llm.fleet.polling_pool_manager",
    "PollingPoolWrapper": "infrastructure.llm.wrappers.polling_pool",
    "StreamInterruptedError": "infrastructure.llm.errors",
    "TaskGroupConfig": "infrastructure.llm.config",
    "TaskGroupManager": "infrastructure.llm.fleet.task_group_manager",
    "TaskGroupWrapper": "infrastructure.llm.wrappers.task_group",
    "load_config_dir": "infrastructure.llm.config",
}

__all__ = [
    "AllTargetsFailedError",
    "BackoffConfig",
    "BaseLLMWrapper",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "ConfigError",
    "ConfigMigrator",
    "DeadlineExceededError",
    "EchelonConfig",
    "EnhancedFallbackManager",
    "ErrorHandler",
    "FallbackConfig",
    "HedgingConfig",
    "LLMConfig",
    "LLMWrapperError",
    "LLMWrapperFactory",
    "MigrationError",
    "ModelConfig",
    "NoCapacityError",
    "PollingPoolConfig",
    "PollingPoolFallbackConfig",
    "PollingPoolManager",
    "PollingPoolWrapper",
    "StreamInterruptedError",
    "TaskGroupConfig",
    "TaskGroupManager",
    "TaskGroupWrapper",
    "load_config_dir",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines public `name` and keep the value for later lookups."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's own names and every public name, loaded or not."""
    return sorted({*globals(), *_EXPORTS})
