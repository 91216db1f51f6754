"""PollingPoolWrapper over a pool of mock instances: the cost of choosing an instance."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.admission import Gate, Refusal, Ticket
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper


def pool_wrapper(manager: TaskGroupManager, **kwargs: Any) -> PollingPoolWrapper:
    return PollingPoolWrapper(
        name="p_wrapper", polling_pool_manager=PollingPoolManager(manager), **kwargs
    )


@pytest.mark.parametrize("rotation", ["round_robin", "random", "least_busy", "weighted"])
def test_a_pool_of_1000_instances_looks_at_one_candidate_per_call(
    rotation: str, manager_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = [{"name": f"e{n}"} for n in range(1000)]
    models = {"m": {"provider": "mock", "model": "echo", "endpoints": endpoints}}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"], "rotation_strategy": rotation}}
    wrapper = pool_wrapper(manager_for(models, groups, pools))
    pool = wrapper.polling_pool_manager.pool("p")  # type: ignore[union-attr]
    examined: list[int] = []
    original = InMemoryState.admit

    def counting(state: InMemoryState, gate: Gate, now: float) -> Ticket | Refusal:
        examined.append(1)
        return original(state, gate, now)

    monkeypatch.setattr(InMemoryState, "admit", counting)

    for _ in range(50):
        wrapper.invoke("hi")
    assert len(examined) == 50  # the first candidate offered was taken every time

    for index in range(1000):
        pool.rotation.set_healthy(index, index == 500)
    examined.clear()
    for _ in range(50):
        assert wrapper.invoke("hi").response_metadata["routing"]["instance"] == "m#e500"
    assert len(examined) == 50
