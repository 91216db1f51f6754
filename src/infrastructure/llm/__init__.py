"""Resilient routing across fleets of chat models, exposed as LangChain chat models."""

from __future__ import annotations

from infrastructure.llm.config import (
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

__all__ = [
    "AllTargetsFailedError",
    "BaseLLMWrapper",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "ConfigError",
    "ConfigMigrator",
    "DeadlineExceededError",
    "EchelonConfig",
    "EnhancedFallbackManager",
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
