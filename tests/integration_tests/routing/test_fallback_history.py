"""Each wrapper's fallback history holds its own calls only; the factory shows them all."""

from __future__ import annotations

from typing import Any

from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import StartSim, openai_model
from routing_helpers import CALL_MODES, answer


def test_hops_are_kept_by_the_wrapper_whose_call_took_them(
    start_sim: StartSim, manager_for: Any
) -> None:
    bad, good = start_sim("error_rate:1.0"), start_sim("healthy")
    models = {"bad": openai_model(bad.base_url), "good": openai_model(good.base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["bad"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
        }
    }
    factory = LLMWrapperFactory(manager_for(models, groups))
    a_wrapper = factory.create_task_group_wrapper("a_wrapper", {"target": "g"})
    b_wrapper = factory.create_task_group_wrapper("b_wrapper", {"target": "g.echelon2"})

    for mode in CALL_MODES:
        assert answer(a_wrapper, mode, "hi") == "Simulated reply to: hi"
        assert answer(b_wrapper, mode, "hi") == "Simulated reply to: hi"

    hops = a_wrapper.get_fallback_history()
    assert len(hops) == len(CALL_MODES)
    assert {(h["from_target"], h["to_target"]) for h in hops} == {("g.echelon1", "g.echelon2")}
    assert b_wrapper.get_fallback_history() == []
    assert factory.get_fallback_history() == hops  # the combined view
