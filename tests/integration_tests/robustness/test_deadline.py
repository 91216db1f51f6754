"""The deadline bounds the whole call: a server that sends its headers and then drips the
body cannot hold an attempt past its timeout, nor a stream past the call's deadline."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.llm.errors import (
    AllTargetsFailedError,
    AttemptTimeoutError,
    StreamInterruptedError,
)
from infrastructure.llm.sim import SimServer
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer


def group(manager_for: Any, *sims: SimServer, **echelon: Any) -> TaskGroupWrapper:
    """One echelon over `sims`, calls starting at the first."""
    models = {"m": openai_model(*(s.base_url for s in sims))}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 1, **echelon}}}
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_dripping_instance_is_cut_at_the_attempt_timeout_and_the_call_fails_over(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    dripping, healthy = start_sim("drip:0.05"), start_sim("healthy")
    # The whole answer would take over 10 s at one byte every 50 ms; each read is quick.
    wrapper = group(manager_for, dripping, healthy, timeout=0.3)
    assert answer(wrapper, mode, "hi") == "Simulated reply to: hi"
    dripping.wait_for(lambda s: s.cancelled == 1)  # the client left mid-body
    assert dripping.stats.completed == 0
    stats = wrapper.get_stats()
    assert stats["per_instance"]["m#0"] == {"requests": 1, "failures": 1, "error_rate": 1.0}
    assert stats["breakers"]["g.echelon1"]["m#0"]["consecutive_failures"] == 1


@pytest.mark.parametrize("mode", CALL_MODES)
def test_with_every_instance_dripping_the_call_ends_with_timeouts(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("drip:0.05") for _ in range(2)]
    wrapper = group(manager_for, *sims, timeout=0.2)
    with pytest.raises(AllTargetsFailedError) as failed:
        answer(wrapper, mode, "hi")
    assert isinstance(failed.value.last_error, AttemptTimeoutError)
    assert "no complete answer within 0.2s" in str(failed.value)
    for sim in sims:
        sim.wait_for(lambda s: s.cancelled == 1)


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_a_stream_that_drips_after_its_first_chunk_ends_at_the_deadline(
    mode: str, start_sim: StartSim, manager_for: Any
) -> None:
    # The first chunk (about 200 bytes) comes in about 0.4 s; the whole stream would take 5 s.
    dripping = start_sim("drip:0.002")
    wrapper = group(manager_for, dripping, timeout=2, first_chunk_timeout=2)
    wrapper = TaskGroupWrapper(
        target="g", task_group_manager=wrapper.task_group_manager, deadline=2.5
    )
    with pytest.raises(StreamInterruptedError) as broke:
        answer(wrapper, mode, "hello there how are you today my friend")
    assert broke.value.partial_text.startswith("Simulated")
    assert isinstance(broke.value.cause, AttemptTimeoutError)
    dripping.wait_for(lambda s: s.cancelled == 1)
    assert wrapper.get_stats()["failed_requests"] == 1
