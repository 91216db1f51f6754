"""Prometheus metrics scraped over real HTTP from `factory.serve_metrics()` and parsed with
prometheus_client's own parser, after calls that failed over, streamed and hit the cache."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm import LLMWrapperFactory

from conftest import StartSim, openai_model, write_config

parser = pytest.importorskip("prometheus_client.parser", reason="the metrics extra is missing")


def scrape(port: int) -> dict[str, Any]:
    """name -> list of (labels, value) of every sample on the endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples: dict[str, Any] = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict[str, Any], name: str, **labels: str) -> float:
    return next(
        v for found, v in samples[name] if all(found.get(k) == x for k, x in labels.items())
    )


def test_metrics_over_http(tmp_path: Path, start_sim: StartSim) -> None:
    failing, healthy = start_sim("error_rate:1.0"), start_sim("healthy")
    models = {"bad": openai_model(failing.base_url), "good": openai_model(healthy.base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["bad"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 1}},
            "cache": {},
        }
    }
    pools = {"p": {"task_groups": ["g.echelon2"]}}
    directory = write_config(tmp_path / "llms", models, groups, pools)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        server = factory.serve_metrics(0)
        try:
            llm = factory.get_wrapper("g_wrapper")
            llm.invoke("first")  # bad#0 fails, its breaker opens, good#0 answers
            list(llm.stream("second"))
            llm.invoke("first")  # a cache hit
            factory.get_wrapper("p_wrapper").invoke("pooled")
            samples = scrape(server.server_port)
        finally:
            server.shutdown()
    assert value(samples, "llm_wrappers_calls_total", wrapper="g_wrapper", outcome="ok") == 2
    assert value(samples, "llm_wrappers_calls_total", wrapper="g_wrapper", outcome="error") == 0
    bad = {"wrapper": "g_wrapper", "instance": "bad#0", "outcome": "retryable"}
    assert value(samples, "llm_wrappers_attempts_total", **bad) == 1
    ok = {"wrapper": "g_wrapper", "instance": "good#0", "outcome": "ok"}
    assert value(samples, "llm_wrappers_attempts_total", **ok) == 2
    # Both routed calls fell back: the first after bad#0 failed, the second past its open breaker.
    assert value(samples, "llm_wrappers_fallbacks_total", wrapper="g_wrapper") == 2
    assert (
        value(samples, "llm_wrappers_cache_lookups_total", wrapper="g_wrapper", result="exact") == 1
    )
    assert (
        value(samples, "llm_wrappers_cache_lookups_total", wrapper="g_wrapper", result="miss") == 2
    )
    assert value(samples, "llm_wrappers_call_duration_seconds_count", wrapper="g_wrapper") == 2
    assert (
        value(samples, "llm_wrappers_call_duration_seconds_bucket", wrapper="g_wrapper", le="+Inf")
        == 2
    )
    assert (
        value(samples, "llm_wrappers_time_to_first_chunk_seconds_count", wrapper="g_wrapper") == 1
    )
    assert value(samples, "llm_wrappers_calls_in_flight", wrapper="g_wrapper") == 0
    attempt_count = "llm_wrappers_attempt_duration_seconds_count"
    assert (
        value(samples, attempt_count, wrapper="g_wrapper", instance="bad#0", outcome="error") == 1
    )
    assert value(samples, attempt_count, wrapper="g_wrapper", instance="good#0", outcome="ok") == 2
    assert value(samples, attempt_count, wrapper="p_wrapper", instance="good#0", outcome="ok") == 1
    assert value(samples, "llm_wrappers_attempt_duration_seconds_sum", instance="good#0") > 0
    in_flight = samples["llm_wrappers_instance_attempts_in_flight"]
    assert {(labels["target"], labels["instance"]) for labels, _ in in_flight} == {
        ("g.echelon1", "bad#0"),
        ("g.echelon2", "good#0"),
        ("p", "good#0"),
    }
    assert all(count == 0 for _, count in in_flight)  # every call has ended
    assert value(samples, "llm_wrappers_breaker_state", target="g.echelon1", instance="bad#0") == 2
    assert value(samples, "llm_wrappers_breaker_state", target="g.echelon2", instance="good#0") == 0
    assert value(samples, "llm_wrappers_pool_healthy_instances", pool="p") == 1
    assert value(samples, "llm_wrappers_calls_total", wrapper="p_wrapper", outcome="ok") == 1


def test_metrics_register_into_the_callers_registry(tmp_path: Path, start_sim: StartSim) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    directory = write_config(
        tmp_path / "llms",
        {"m": openai_model(start_sim("healthy").base_url)},
        {"g": {"echelon1": {"models": ["m"]}}},
    )
    registry = CollectorRegistry()
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        assert factory.register_metrics(registry) is registry
        factory.get_wrapper("g_wrapper").invoke("hi")
        text = generate_latest(registry).decode()
    assert 'llm_wrappers_calls_total{outcome="ok",wrapper="g_wrapper"} 1.0' in text
