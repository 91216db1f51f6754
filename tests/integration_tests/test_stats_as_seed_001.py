"""`get_stats()` as seed 001 names it (average latency, average tokens per request, error
rate per instance), and `latency_ms` in every answer's routing metadata, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.sim import FaultMode

from conftest import StartSim, openai_model, write_config


def test_averages_error_rates_and_latency_in_metadata(tmp_path: Path, start_sim: StartSim) -> None:
    failing, healthy = start_sim("error_rate:1.0"), start_sim(FaultMode("healthy", latency=0.02))
    models = {"m": openai_model(failing.base_url, healthy.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 1}}}
    directory = write_config(tmp_path / "llms", models, groups)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        llm = factory.get_wrapper("g_wrapper")
        answers = [llm.invoke("one two three") for _ in range(4)]
        chunks = list(llm.stream("one two three"))
        stats = llm.get_stats()
    for answer in answers:
        assert answer.response_metadata["routing"]["latency_ms"] >= 20.0
    assert chunks[0].response_metadata["routing"]["latency_ms"] >= 20.0  # to the first chunk
    assert stats["avg_latency_ms"] >= 20.0
    total = stats["tokens"]["total"]
    assert total > 0 and stats["avg_tokens_per_request"] == pytest.approx(total / 5)
    per_instance = stats["per_instance"]
    assert per_instance["m#0"]["error_rate"] == 1.0
    assert per_instance["m#1"] == {"requests": 5, "failures": 0, "error_rate": 0.0}
