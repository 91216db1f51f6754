"""An OpenAI-compatible simulator on loopback with fault modes, for tests, demos and benchmarks;
optionally a simulated vLLM instance (slots, prefix cache, `/metrics`)."""

from infrastructure.llm.sim.capture import CapturedRequest
from infrastructure.llm.sim.faults import FaultMode
from infrastructure.llm.sim.server import SimServer
from infrastructure.llm.sim.stats import SimStats
from infrastructure.llm.sim.vllm import VllmConfig

__all__ = ["CapturedRequest", "FaultMode", "SimServer", "SimStats", "VllmConfig"]
