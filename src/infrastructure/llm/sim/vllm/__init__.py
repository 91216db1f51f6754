"""A simulated vLLM instance: request slots with a queue, a bounded prefix cache, a time model
and vLLM's Prometheus metrics."""

from infrastructure.llm.sim.vllm.config import VllmConfig
from infrastructure.llm.sim.vllm.engine import EngineSnapshot, Prefill, VllmEngine

__all__ = ["EngineSnapshot", "Prefill", "VllmConfig", "VllmEngine"]
