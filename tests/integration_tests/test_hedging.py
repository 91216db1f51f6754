"""Hedged requests: a slow first attempt is raced by another instance; the loser is cancelled."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.sim import SimServer
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES

FAST_HEDGE = {"delay": 0.05, "max_extra_attempts": 1}


def hedged_pool(
    manager_for: Any,
    *sims: SimServer,
    hedging: dict[str, Any] | None = None,
    echelon: dict[str, Any] | None = None,
) -> PollingPoolWrapper:
    """A round-robin pool over `sims` (the first call goes to the first sim) with hedging."""
    models = {"m": openai_model(*(s.base_url for s in sims))}
    groups = {"g": {"echelon1": {"models": ["m"], "timeout": 10, **(echelon or {})}}}
    pools = {"p": {"task_groups": ["g"], "hedging": hedging or FAST_HEDGE}}
    manager = manager_for(models, groups, pools)
    return PollingPoolWrapper(name="p_wrapper", polling_pool_manager=PollingPoolManager(manager))


def routing_of(
    wrapper: Any,
    mode: str,
    clock: FakeClock | None = None,
    sims: tuple[SimServer, ...] = (),
    hedges: int = 0,
) -> tuple[str, dict[str, Any]]:
    """Answer text and routing metadata of one call made by `mode`.

    With a fake clock, hedge delays pass only when the test moves time: after the `k`-th
    request has reached `sims`, the clock is moved on by the hedge delay, `hedges` times.
    """
    if clock is None or not hedges:
        return _call(wrapper, mode)

    def advance_as_lanes_start() -> None:
        delay = wrapper._router.hedger.delay()
        for started in range(1, hedges + 1):
            give_up = time.monotonic() + 5.0
            while sum(s.stats.requests for s in sims) < started and time.monotonic() < give_up:
                time.sleep(0.002)
            clock.advance(delay)

    advancer = threading.Thread(target=advance_as_lanes_start)
    advancer.start()
    try:
        return _call(wrapper, mode)
    finally:
        advancer.join()


def _call(wrapper: Any, mode: str) -> tuple[str, dict[str, Any]]:
    from routing_helpers import _LOOP

    if mode == "invoke":
        message = wrapper.invoke("hi")
        return message.content, message.response_metadata["routing"]
    if mode == "ainvoke":
        message = _LOOP.run_until_complete(wrapper.ainvoke("hi"))
        return message.content, message.response_metadata["routing"]
    if mode == "stream":
        chunks = list(wrapper.stream("hi"))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in wrapper.astream("hi")]

        chunks = _LOOP.run_until_complete(collect())
    text = "".join(str(c.content) for c in chunks)
    return text, chunks[0].response_metadata["routing"]


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_slow_instance_is_raced_and_the_fast_one_wins(
    mode: str, start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    slow, fast = start_sim("slow:0.5"), start_sim("healthy")
    wrapper = hedged_pool(manager_for, slow, fast)
    text, routing = routing_of(wrapper, mode, fake_clock, (slow, fast), hedges=1)
    assert text == "Simulated reply to: hi"
    assert (routing["instance"], routing["hedged"], routing["attempts"]) == ("m#1", True, 2)
    assert wrapper.get_stats()["hedges"] == 1
    if mode.startswith("a"):
        # Async losers are cancelled: the simulator sees the slow request's client go away.
        assert slow.wait_for(lambda s: s.cancelled == 1).completed == 0
    else:
        # A blocked sync request cannot be interrupted: it finishes and its answer is dropped.
        assert slow.wait_for(lambda s: s.completed == 1).cancelled == 0


def test_a_stream_hedges_when_its_first_chunk_is_late(
    start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    late_first_chunk = start_sim("slow:0.5")
    fast = start_sim("healthy")
    wrapper = hedged_pool(manager_for, late_first_chunk, fast)
    text, _ = routing_of(wrapper, "astream", fake_clock, (late_first_chunk, fast), hedges=1)
    assert text == "Simulated reply to: hi"
    # The late instance lost the race: it counts as a failed (slow) attempt.
    assert wrapper.get_stats()["per_instance"] == {
        "m#0": {"requests": 1, "failures": 1, "error_rate": 1.0},
        "m#1": {"requests": 1, "failures": 0, "error_rate": 0.0},
    }
    late_first_chunk.wait_for(lambda s: s.cancelled == 1)


def test_no_hedge_when_the_answer_comes_in_time(start_sim: StartSim, manager_for: Any) -> None:
    sims = [start_sim("healthy"), start_sim("healthy")]
    wrapper = hedged_pool(manager_for, *sims, hedging={"delay": 5})
    for mode in CALL_MODES:
        _, routing = routing_of(wrapper, mode)
        assert routing["hedged"] is False
    assert wrapper.get_stats()["hedges"] == 0
    assert sum(s.stats.requests for s in sims) == 4


def test_hedges_respect_the_concurrency_limit(
    start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    slow, fast = start_sim("slow:0.3"), start_sim("healthy")
    wrapper = hedged_pool(manager_for, slow, fast, echelon={"concurrency_limit": 1})
    text, routing = routing_of(wrapper, "ainvoke", fake_clock, (slow, fast), hedges=1)
    # The hedge was due after 50 ms but the only slot was taken: it waited and was cancelled.
    assert (text, routing["instance"], routing["hedged"]) == ("Simulated reply to: hi", "m#0", True)
    assert fast.stats.requests == 0
    key = wrapper.polling_pool_manager.pool("p").members[0].echelon.limits.key  # type: ignore[union-attr]
    assert wrapper.task_group_manager.state.in_flight(key) == 0  # type: ignore[union-attr]


def test_at_most_max_extra_attempts_lanes_start(
    start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    sims = [start_sim("slow:0.4") for _ in range(4)]
    wrapper = hedged_pool(manager_for, *sims, hedging={"delay": 0.05, "max_extra_attempts": 2})
    _, routing = routing_of(wrapper, "ainvoke", fake_clock, tuple(sims), hedges=2)
    assert routing["hedged"] is True
    assert wrapper.get_stats()["hedges"] == 2
    assert sum(s.stats.requests for s in sims) == 3


def test_when_every_lane_fails_the_call_fails_with_all_attempts(
    start_sim: StartSim, manager_for: Any
) -> None:
    failing = [start_sim("error_rate:1.0") for _ in range(2)]
    wrapper = hedged_pool(manager_for, *failing)
    with pytest.raises(AllTargetsFailedError, match="no instance answered"):
        routing_of(wrapper, "ainvoke")
    assert wrapper.get_stats()["failed_requests"] == 1


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_task_groups_hedge_across_their_instances(
    mode: str, start_sim: StartSim, manager_for: Any, fake_clock: FakeClock
) -> None:
    slow, fast = start_sim("slow:0.5"), start_sim("healthy")
    models = {"m": openai_model(slow.base_url, fast.base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["m"], "timeout": 10},
            "fallback_config": {"hedging": FAST_HEDGE},
        }
    }
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    text, routing = routing_of(wrapper, mode, fake_clock, (slow, fast), hedges=1)
    assert (text, routing["instance"], routing["hedged"]) == ("Simulated reply to: hi", "m#1", True)
