"""The simulated vLLM engine, without I/O: slots, the prefix cache, the time model and the
counters behind `/metrics`, driven by whoever owns the clock and the sleeping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infrastructure.llm.clock import Clock
from infrastructure.llm.sim.vllm.config import VllmConfig
from infrastructure.llm.sim.vllm.histogram import Histogram, HistogramSnapshot
from infrastructure.llm.sim.vllm.prefix_cache import PrefixCache, block_hashes
from infrastructure.llm.sim.vllm.scheduler import SlotScheduler

# vLLM's buckets for time to first token, in seconds.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class Prefill:
    """The prefill decided when a request got its slot: tokens found in the prefix cache,
    tokens computed, and the seconds computing them takes."""

    cached_tokens: int
    computed_tokens: int
    seconds: float


@dataclass(eq=False)
class EngineRequest:
    """One request inside the engine; `prefill` is set once it holds a slot."""

    prompt_tokens: int
    hashes: list[int]
    blocks: int
    arrived: float
    prefill: Prefill | None = None


@dataclass(frozen=True)
class EngineSnapshot:
    """What `/metrics` shows: the scheduler's state, the KV cache's use (0..1), the prefix
    cache's counters in tokens (as vLLM v1 counts them) and the time-to-first-token histogram."""

    running: int
    waiting: int
    kv_cache_usage: float
    prefix_cache_queries: int
    prefix_cache_hits: int
    time_to_first_token: HistogramSnapshot


class VllmEngine:
    """Admits requests into `max_num_seqs` slots (FIFO beyond), decides each prefill from the
    prefix cache, and counts what vLLM's `/metrics` reports. Not thread-safe: one owner."""

    def __init__(self, config: VllmConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._slots: SlotScheduler[EngineRequest] = SlotScheduler(config.max_num_seqs)
        self._cache = PrefixCache(config.num_gpu_blocks_override)
        self._held_blocks = 0
        self._queries = 0
        self._hits = 0
        self._ttft = Histogram(TTFT_BUCKETS)

    @property
    def config(self) -> VllmConfig:
        """The instance's parameters."""
        return self._config

    def arrive(self, prompt: Sequence[str], output_tokens: int) -> EngineRequest:
        """Register a request for `prompt` (its tokens); it is admitted now when a slot is free
        (then its `prefill` is set), else it waits."""
        size = self._config.block_size
        request = EngineRequest(
            prompt_tokens=len(prompt),
            hashes=block_hashes(prompt, size) if self._config.enable_prefix_caching else [],
            blocks=math.ceil((len(prompt) + output_tokens) / size),
            arrived=self._clock.now(),
        )
        if self._slots.submit(request):
            self._admit(request)
        return request

    def prefilled(self, request: EngineRequest) -> None:
        """`request`'s first token is out: its prompt blocks join the prefix cache and its time
        to first token is recorded."""
        self._cache.store(request.hashes)
        self._ttft.observe(self._clock.now() - request.arrived)

    def leave(self, request: EngineRequest) -> list[EngineRequest]:
        """`request` finished or its client left: free its slot (or its place in the queue);
        return the waiting requests admitted now, their `prefill` set."""
        if request.prefill is not None:
            self._held_blocks -= request.blocks
        admitted = self._slots.leave(request)
        for other in admitted:
            self._admit(other)
        return admitted

    def reset_prefix_cache(self) -> None:
        """Forget every cached block (vLLM's `/reset_prefix_cache`)."""
        self._cache.clear()

    def snapshot(self) -> EngineSnapshot:
        """The current gauges and counters."""
        usage = min(1.0, self._held_blocks / self._config.num_gpu_blocks_override)
        return EngineSnapshot(
            running=self._slots.running,
            waiting=self._slots.waiting,
            kv_cache_usage=usage,
            prefix_cache_queries=self._queries,
            prefix_cache_hits=self._hits,
            time_to_first_token=self._ttft.snapshot(),
        )

    def _admit(self, request: EngineRequest) -> None:
        """Decide the prefill of a request that just got a slot, and count the lookup."""
        cached = 0
        if self._config.enable_prefix_caching:
            size = self._config.block_size
            # The last prompt token is always computed, even when every block is cached.
            usable = (request.prompt_tokens - 1) // size if request.prompt_tokens else 0
            cached = min(self._cache.match(request.hashes), usable) * size
            self._queries += request.prompt_tokens
            self._hits += cached
        computed = request.prompt_tokens - cached
        request.prefill = Prefill(cached, computed, self._config.prefill_seconds(computed))
        self._held_blocks += request.blocks
