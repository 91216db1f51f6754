"""Picking an instance costs O(1) however many instances are out: an instance refused for a
known time (open breaker, cool-down) is benched, and later calls do not look at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.resilience.admission import Gate, Refusal, Ticket
from infrastructure.llm.resilience.records import BreakerRecord, CircuitState
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import write_config


def test_an_echelon_with_999_open_breakers_looks_at_one_candidate_per_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = [{"name": f"e{n}"} for n in range(1000)]
    models = {"m": {"provider": "mock", "model": "echo", "endpoints": endpoints}}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    clock = FakeClock()
    directory = write_config(tmp_path / "llms", models, groups)
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)
    opened = BreakerRecord(CircuitState.OPEN, 5, clock.now())
    for member in wrapper.plan.targets[0].members:
        if member.instance.id != "m#e500":
            manager.state.update_breaker(member.gate.breaker_key, lambda _: (opened, None))

    examined: list[str] = []
    original = InMemoryState.admit

    def counting(state: InMemoryState, gate: Gate, now: float) -> Ticket | Refusal:
        examined.append(gate.breaker_key)
        return original(state, gate, now)

    monkeypatch.setattr(InMemoryState, "admit", counting)
    for _ in range(50):
        assert wrapper.invoke("hi").response_metadata["routing"]["instance"] == "m#e500"
    # Each open instance was looked at once, then benched: 999 of them, plus one per call.
    assert len(examined) == 999 + 50
    examined.clear()
    for _ in range(50):
        assert wrapper.invoke("hi").response_metadata["routing"]["instance"] == "m#e500"
    assert len(examined) == 50

    clock.advance(60)  # recovery_time: the benched instances are offered again, half-open
    examined.clear()
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert routing["instance"] != "m#e500" and len(examined) == 1  # a probe went through


def test_an_instance_benched_twice_comes_back_once(tmp_path: Path) -> None:
    models = {"m": {"provider": "mock", "model": "echo", "endpoints": [{}, {}]}}
    directory = write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["m"]}}})
    clock = FakeClock()
    manager = TaskGroupManager.from_config_dir(directory, clock=clock)
    target = TaskGroupWrapper(target="g", task_group_manager=manager).plan.targets[0]
    first = target.members[0]
    target.bench(first, 1.0)  # another caller benches it again, for longer, meanwhile
    target.bench(first, 1.001)
    assert [m.instance.id for m in target.order([], None)] == ["m#1"]
    clock.advance(2.0)  # both bench entries are over by the next pick
    assert sorted(m.instance.id for m in target.order([], None)) == ["m#0", "m#1"]
    assert target.benched() == (0, 0.0)
