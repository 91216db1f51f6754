"""Many concurrent connections against one simulator, through the async openai client."""

from __future__ import annotations

import asyncio
import time

import openai

from infrastructure.llm.sim import FaultMode, SimServer

CONCURRENCY = 150


async def _fan_out(sim: SimServer, stream: bool) -> list[str]:
    """Send CONCURRENCY requests at once, each on its own connection; return the texts."""
    async with openai.AsyncOpenAI(
        base_url=sim.base_url, api_key="k", max_retries=0, timeout=20
    ) as client:

        async def one(index: int) -> str:
            messages = [{"role": "user", "content": f"request {index}"}]
            if not stream:
                result = await client.chat.completions.create(model="m", messages=messages)
                return result.choices[0].message.content or ""
            chunks = await client.chat.completions.create(model="m", messages=messages, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in chunks])

        return await asyncio.gather(*(one(i) for i in range(CONCURRENCY)))


async def test_many_concurrent_completions_and_streams() -> None:
    with SimServer(FaultMode(chunk_delay=0.001)) as sim:
        for stream in (False, True):
            texts = await _fan_out(sim, stream)
            assert texts == [f"Simulated reply to: request {i}" for i in range(CONCURRENCY)]
        stats = sim.stats
        assert (stats.requests, stats.completed, stats.in_flight) == (
            2 * CONCURRENCY,
            2 * CONCURRENCY,
            0,
        )


async def test_slow_requests_are_served_in_parallel() -> None:
    latency = 0.2
    with SimServer(FaultMode("slow", latency=latency)) as sim:
        started = time.monotonic()
        texts = await _fan_out(sim, stream=False)
        elapsed = time.monotonic() - started
    assert len(texts) == CONCURRENCY
    assert latency <= elapsed < CONCURRENCY * latency / 4  # nowhere near one at a time
    assert 1 < sim.stats.peak_in_flight <= CONCURRENCY
