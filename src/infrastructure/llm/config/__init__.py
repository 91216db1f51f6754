"""LLM configuration: the model registry and task groups, loaded and validated from YAML."""

from __future__ import annotations

from infrastructure.llm.config.loader import load_config_dir, load_config_files
from infrastructure.llm.config.schema import (
    CircuitBreakerConfig,
    EchelonConfig,
    EndpointConfig,
    FallbackConfig,
    InstanceConfig,
    LLMConfig,
    ModelConfig,
    TaskGroupConfig,
)
from infrastructure.llm.config.targets import FallbackTarget

__all__ = [
    "CircuitBreakerConfig",
    "EchelonConfig",
    "EndpointConfig",
    "FallbackConfig",
    "FallbackTarget",
    "InstanceConfig",
    "LLMConfig",
    "ModelConfig",
    "TaskGroupConfig",
    "load_config_dir",
    "load_config_files",
]
