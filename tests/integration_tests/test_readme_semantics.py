"""What the README's samples promise, over the simulator: an explicit `fallback_groups` list
replaces the group's fallback order, and `health_check_all()` reports this round's probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm import AllTargetsFailedError, LLMWrapperFactory
from infrastructure.llm.sim import SimServer

from conftest import StartSim, openai_model, write_config

Fleet = tuple[LLMWrapperFactory, SimServer, SimServer]


@pytest.fixture
def fleet(start_sim: StartSim, dead_url: str, tmp_path: Path) -> Fleet:
    """Group g: echelon1 dead, echelon2 and echelon3 each one simulator; pool p over g's
    instances with the usual failure_threshold of 3."""
    second, third = start_sim("healthy"), start_sim("healthy")
    models = {
        "dead": openai_model(dead_url),
        "second": openai_model(second.base_url),
        "third": openai_model(third.base_url),
    }
    groups: dict[str, dict[str, Any]] = {
        "g": {
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["second"], "max_retries": 0},
            "echelon3": {"models": ["third"], "max_retries": 0},
            "fallback_config": {"retry_delay": 0},
        }
    }
    pools = {"p": {"task_groups": ["g.echelon1", "g.echelon3"], "failure_threshold": 3}}
    factory = LLMWrapperFactory.from_config_dir(write_config(tmp_path, models, groups, pools))
    return factory, second, third


def test_an_explicit_fallback_list_replaces_the_groups_order(fleet: Fleet) -> None:
    factory, second, third = fleet
    wrapper = factory.create_task_group_wrapper(
        name="fast_wrapper",
        config={"target": "g.echelon1", "fallback_groups": ["g.echelon3"]},
    )
    routing = wrapper.invoke("hi").response_metadata["routing"]
    assert (routing["target"], routing["fallbacks"]) == ("g.echelon3", 1)
    assert second.stats.completed == 0  # echelon2 was not listed, so never asked
    assert third.stats.completed == 1
    # Without the list, the group's own order goes down through echelon2.
    assert (
        factory.get_wrapper("g_wrapper").invoke("hi").response_metadata["routing"]["target"]
        == "g.echelon2"
    )


def test_an_empty_fallback_list_means_no_fallback(fleet: Fleet) -> None:
    factory = fleet[0]
    wrapper = factory.create_task_group_wrapper(
        "alone", {"target": "g.echelon1", "fallback_groups": []}
    )
    with pytest.raises(AllTargetsFailedError, match=r"\(targets g\.echelon1\)"):
        wrapper.invoke("hi")


def test_health_check_all_reports_the_pools_probes_at_once(fleet: Fleet) -> None:
    factory = fleet[0]
    report = factory.health_check_all()["p_wrapper"]
    assert (report["healthy"], report["healthy_instances"], report["total_instances"]) == (
        True,
        1,
        2,
    )
    dead, live = report["instances"]["dead#0"], report["instances"]["third#0"]
    assert dead["healthy"] is False and "Connection" in dead["error"]
    assert live == {"healthy": True, "error": None, "in_rotation": True}
    # One failed round of three: the dead instance is still in the rotation, and says so.
    assert dead["in_rotation"] is True
    for _ in range(2):
        report = factory.health_check_all()["p_wrapper"]
    assert report["instances"]["dead#0"]["in_rotation"] is False
    assert report["healthy_instances"] == 1
