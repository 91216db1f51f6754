"""OpenTelemetry spans of routed calls, with the SDK's in-memory exporter: one span per call,
a child span per attempt, GenAI attributes, and the failed attempt's error recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.observability.tracing import disable_tracing, enable_tracing

from conftest import StartSim, openai_model, write_config

sdk = pytest.importorskip(
    "opentelemetry.sdk.trace", reason="the otel test dependencies are missing"
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(provider)
    yield exporter
    disable_tracing()


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_a_call_is_one_span_with_a_child_per_attempt(
    tmp_path: Path, start_sim: StartSim, exporter: InMemorySpanExporter, mode: str
) -> None:
    failing, healthy = start_sim("error_rate:1.0"), start_sim("healthy")
    models = {"m": openai_model(failing.base_url, healthy.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 1}}}
    directory = write_config(tmp_path / "llms", models, groups)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        llm = factory.get_wrapper("g_wrapper")
        if mode == "invoke":
            llm.invoke("one two")
        else:
            asyncio.run(llm.ainvoke("one two"))
    spans = exporter.get_finished_spans()
    [call] = [s for s in spans if s.parent is None]
    attempts = sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time)
    assert call.name == "chat g.echelon1" and len(attempts) == 2
    assert all(s.parent.span_id == call.context.span_id for s in attempts)
    assert call.attributes["llm_wrappers.wrapper"] == "g_wrapper"
    assert call.attributes["llm_wrappers.instance"] == "m#1"
    assert call.attributes["llm_wrappers.attempts"] == 2
    assert call.attributes["gen_ai.request.model"] == "sim-model"
    assert call.attributes["gen_ai.usage.input_tokens"] > 0
    failed, answered = attempts
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.attributes["llm_wrappers.instance"] == "m#0"
    assert answered.status.status_code is not StatusCode.ERROR
    assert answered.attributes["gen_ai.system"] == "openai"
    assert answered.attributes["server.address"] == "127.0.0.1"
    assert answered.attributes["server.port"] == int(healthy.base_url.split(":")[2].split("/")[0])


def test_no_spans_unless_enabled(tmp_path: Path, start_sim: StartSim) -> None:
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    directory = write_config(
        tmp_path / "llms",
        {"m": openai_model(start_sim("healthy").base_url)},
        {"g": {"echelon1": {"models": ["m"]}}},
    )
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        factory.get_wrapper("g_wrapper").invoke("hi")
    assert exporter.get_finished_spans() == ()


def test_the_attempts_of_sync_hedge_lanes_are_children_of_their_call(
    tmp_path: Path, start_sim: StartSim, exporter: InMemorySpanExporter
) -> None:
    slow, fast = start_sim("slow:0.5"), start_sim("healthy")
    models = {"m": openai_model(slow.base_url, fast.base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["m"]},
            "fallback_config": {"hedging": {"delay": 0.05, "max_extra_attempts": 1}},
        }
    }
    directory = write_config(tmp_path / "llms", models, groups)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        message = factory.get_wrapper("g_wrapper").invoke("one two")
    assert message.response_metadata["routing"]["hedged"] is True
    # The losing lane's request cannot be interrupted in a sync call: its span ends with it.
    deadline = time.monotonic() + 10
    while len(exporter.get_finished_spans()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    spans = exporter.get_finished_spans()
    [call] = [s for s in spans if s.name == "chat g.echelon1"]
    lanes = [s for s in spans if s is not call]
    assert {s.attributes["llm_wrappers.instance"] for s in lanes} == {"m#0", "m#1"}
    assert all(s.parent is not None and s.parent.span_id == call.context.span_id for s in lanes)


def test_a_call_the_sampler_drops_makes_no_attempt_spans(
    tmp_path: Path, start_sim: StartSim
) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    directory = write_config(
        tmp_path / "llms",
        {"m": openai_model(start_sim("healthy").base_url)},
        {"g": {"echelon1": {"models": ["m"]}}},
    )
    created: list[str] = []
    tracer = provider.get_tracer("test")
    original = tracer.start_as_current_span

    def counting(name: str, *args: object, **kwargs: object) -> object:
        created.append(name)
        return original(name, *args, **kwargs)  # type: ignore[arg-type]

    class CountingProvider:
        def get_tracer(self, *args: object, **kwargs: object) -> object:
            tracer.start_as_current_span = counting  # type: ignore[method-assign]
            return tracer

    enable_tracing(CountingProvider())
    try:
        with LLMWrapperFactory.from_config_dir(directory) as factory:
            factory.get_wrapper("g_wrapper").invoke("hi")
    finally:
        disable_tracing()
    assert created == ["chat g.echelon1"]  # the call's span was asked for, no attempt's
    assert exporter.get_finished_spans() == ()
