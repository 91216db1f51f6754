"""Async HTTP clients belong to the event loop that uses them: a script, notebook or Celery
task may call `asyncio.run` again and again with the same wrapper, and each loop's clients
are closed when it shuts down."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from infrastructure.llm.providers import transport as transports
from infrastructure.llm.providers.transport import LoopClients, loop_clients
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model

TRANSPORT_CLASSES = {"aiohttp": "AiohttpTransport", "httpx": "AsyncHTTPTransport"}


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_repeated_asyncio_run_just_works_and_closes_each_loops_clients(
    transport: str, start_sim: StartSim, manager_for: Any
) -> None:
    sim = start_sim("healthy")
    models = {"m": {**openai_model(sim.base_url), "async_transport": transport}}
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=manager_for(models, {"g": {"echelon1": {"models": ["m"]}}})
    )

    async def invoke(prompt: str) -> tuple[LoopClients, str]:
        return loop_clients(), str((await wrapper.ainvoke(prompt)).content)

    async def stream(prompt: str) -> tuple[LoopClients, str]:
        parts = [str(chunk.content) async for chunk in wrapper.astream(prompt)]
        return loop_clients(), "".join(parts)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [asyncio.run(call(f"run {n}")) for n in range(3) for call in (invoke, stream)]
        gc.collect()
    assert [text for _, text in runs] == [
        f"Simulated reply to: run {n}" for n in range(3) for _ in range(2)
    ]
    clients = [c for c, _ in runs]
    assert len({id(c) for c in clients}) == len(clients)  # a client per loop
    assert all(list(c.clients) == [transport] for c in clients)  # the model's transport only
    assert all(c.clients[transport].is_closed for c in clients)  # each closed with its loop
    assert not set(map(id, clients)) & set(map(id, transports._loops.values()))  # and let go
    inner = clients[0].clients[transport]._transport._inner  # type: ignore[attr-defined]
    assert type(inner).__name__ == TRANSPORT_CLASSES[transport]
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert sim.stats.completed == 6
