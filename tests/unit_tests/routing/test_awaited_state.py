"""A state that is not local (as a networked store is) is awaited by async calls, never
called from the event loop; sync calls use its blocking methods."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.admission import Gate, Refusal, Ticket, Verdict
from infrastructure.llm.resilience.state import InMemoryState, Transition
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import write_config


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class AwaitedState(InMemoryState):
    """In-memory records behind the interface of a remote store: async callers must await."""

    local = False

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def admit(self, gate: Gate, now: float) -> Ticket | Refusal:
        assert not _on_event_loop(), "a blocking state call ran on the event loop"
        self.calls["admit"] += 1
        return super().admit(gate, now)

    def settle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        assert not _on_event_loop(), "a blocking state call ran on the event loop"
        self.calls["settle"] += 1
        return super().settle(gate, ticket, verdict, now, cooldown)

    async def aadmit(self, gate: Gate, now: float) -> Ticket | Refusal:
        await asyncio.sleep(0)  # a round trip would suspend here
        self.calls["aadmit"] += 1
        return InMemoryState.admit(self, gate, now)

    async def asettle(
        self, gate: Gate, ticket: Ticket, verdict: Verdict, now: float, cooldown: float = 0.0
    ) -> Transition | None:
        await asyncio.sleep(0)
        self.calls["asettle"] += 1
        return InMemoryState.settle(self, gate, ticket, verdict, now, cooldown)


@pytest.fixture
def manager(tmp_path: Path) -> TaskGroupManager:
    models = {"m": {"provider": "mock", "model": "echo", "endpoints": [{}, {}]}}
    groups = {"g": {"echelon1": {"models": ["m"], "concurrency_limit": 2, "rpm_limit": 600}}}
    pools = {"p": {"task_groups": ["g"]}}
    directory = write_config(tmp_path / "llms", models, groups, pools)
    return TaskGroupManager.from_config_dir(directory, state=AwaitedState())


def wrappers(manager: TaskGroupManager) -> list[Any]:
    pool = PollingPoolWrapper(name="p_wrapper", polling_pool_manager=PollingPoolManager(manager))
    return [TaskGroupWrapper(target="g", task_group_manager=manager), pool]


async def test_async_calls_await_every_state_step(manager: TaskGroupManager) -> None:
    state = manager.state
    assert isinstance(state, AwaitedState)
    for wrapper in wrappers(manager):
        reply = await wrapper.ainvoke("hi")
        assert reply.content == "Mock reply to: hi"
        chunks = [chunk async for chunk in wrapper.astream("hi")]
        assert "".join(str(c.content) for c in chunks) == "Mock reply to: hi"
    # Each call: one admit; then the answer (invoke) or the first chunk and the end (stream).
    assert state.calls == {"aadmit": 4, "asettle": 6}
    assert state.in_flight("limits:g.echelon1") == 0


def test_sync_calls_use_the_blocking_methods(manager: TaskGroupManager) -> None:
    state = manager.state
    assert isinstance(state, AwaitedState)
    for wrapper in wrappers(manager):
        assert wrapper.invoke("hi").content == "Mock reply to: hi"
        assert "".join(str(c.content) for c in wrapper.stream("hi")) == "Mock reply to: hi"
    assert state.calls == {"admit": 4, "settle": 6}
    assert state.in_flight("limits:g.echelon1") == 0
