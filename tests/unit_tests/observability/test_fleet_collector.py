"""The metrics a factory exposes, collected in-process over mock instances (no sockets): each
target's attempts in flight per instance, and each wrapper's attempt durations per instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory

from conftest import write_config

prometheus = pytest.importorskip("prometheus_client", reason="the metrics extra is missing")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def samples(factory: LLMWrapperFactory, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called `name` on the factory's metrics page, by their sorted labels."""
    text = prometheus.generate_latest(factory.register_metrics()).decode()
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_held_stream_is_in_flight_on_its_target_and_attempts_are_timed(tmp_path: Path) -> None:
    models = {"m": {"provider": "mock", "model": "echo", "endpoints": [{}, {}]}}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"]}}
    directory = write_config(tmp_path / "llms", models, groups, pools)
    in_flight = "llm_wrappers_instance_attempts_in_flight"
    timed = "llm_wrappers_attempt_duration_seconds_count"
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        grouped, pooled = factory.get_wrapper("g_wrapper"), factory.get_wrapper("p_wrapper")
        grouped.invoke("one")  # m#0
        pooled.invoke("two")
        stream = grouped.stream("held open")  # m#1, until it is closed
        next(stream)
        try:
            held = samples(factory, in_flight)
            counted = samples(factory, timed)
        finally:
            stream.close()
        after = samples(factory, in_flight)
    assert held == {
        (("instance", "m#0"), ("target", "g.echelon1")): 0,
        (("instance", "m#1"), ("target", "g.echelon1")): 1,
        (("instance", "m#0"), ("target", "p")): 0,
        (("instance", "m#1"), ("target", "p")): 0,
    }
    assert set(after.values()) == {0}
    # The open stream's attempt is recorded when its call ends; the ended calls' are there.
    assert counted == {
        (("instance", "m#0"), ("outcome", "ok"), ("wrapper", "g_wrapper")): 1,
        (("instance", "m#0"), ("outcome", "ok"), ("wrapper", "p_wrapper")): 1,
    }
