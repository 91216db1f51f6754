"""LLM configuration: the model registry, task groups and polling pools, validated from YAML."""

from __future__ import annotations

from infrastructure.llm.config.loader import load_config_dir, load_config_files
from infrastructure.llm.config.schema import (
    BackoffConfig,
    CircuitBreakerConfig,
    EchelonConfig,
    EndpointConfig,
    FallbackChain,
    FallbackConfig,
    HedgingConfig,
    InstanceConfig,
    LLMConfig,
    ModelConfig,
    PollingPoolConfig,
    PollingPoolFallbackConfig,
    TaskGroupConfig,
)
from infrastructure.llm.config.targets import FallbackTarget

__all__ = [
    "BackoffConfig",
    "CircuitBreakerConfig",
    "EchelonConfig",
    "EndpointConfig",
    "FallbackChain",
    "FallbackConfig",
    "FallbackTarget",
    "HedgingConfig",
    "InstanceConfig",
    "LLMConfig",
    "ModelConfig",
    "PollingPoolConfig",
    "PollingPoolFallbackConfig",
    "TaskGroupConfig",
    "load_config_dir",
    "load_config_files",
]
