"""enable_tracing's sample_ratio: a call outside a recording span is traced with that
probability, decided before the SDK is asked; a call inside one is always traced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.observability import tracing

sdk = pytest.importorskip(
    "opentelemetry.sdk.trace", reason="the otel test dependencies are missing"
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


@pytest.fixture
def provider() -> Iterator[sdk.TracerProvider]:
    provider = sdk.TracerProvider()
    provider.exporter = InMemorySpanExporter()  # type: ignore[attr-defined]
    provider.add_span_processor(SimpleSpanProcessor(provider.exporter))  # type: ignore[attr-defined]
    yield provider
    tracing.disable_tracing()


def draws(monkeypatch: pytest.MonkeyPatch, values: list[float]) -> None:
    queue = iter(values)
    monkeypatch.setattr(tracing, "_draw", lambda: next(queue))


def test_a_share_of_calls_outside_any_trace_is_traced(
    provider: sdk.TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracing.enable_tracing(provider, sample_ratio=0.25)
    draws(monkeypatch, [0.1, 0.9, 0.25, 0.0])
    traced = []
    for _ in range(4):
        with tracing.call_span("w", "g.echelon1", streaming=False) as span:
            traced.append(span is not None)
    assert traced == [True, False, False, True]
    assert len(provider.exporter.get_finished_spans()) == 2  # type: ignore[attr-defined]


def test_a_call_inside_a_recording_span_is_always_traced(
    provider: sdk.TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracing.enable_tracing(provider, sample_ratio=0.0)
    draws(monkeypatch, [0.5])
    with (
        provider.get_tracer("app").start_as_current_span("request") as request,
        tracing.call_span("w", "g.echelon1", streaming=True) as span,
    ):
        assert span is not None
        assert span.parent.span_id == request.get_span_context().span_id


def test_every_call_is_traced_by_default_without_drawing(
    provider: sdk.TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracing.enable_tracing(provider)
    draws(monkeypatch, [])  # a draw would raise StopIteration
    with tracing.call_span("w", "g.echelon1", streaming=False) as span:
        assert span is not None


@pytest.mark.parametrize("ratio", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_a_ratio_outside_0_to_1_is_refused_by_name(
    provider: sdk.TracerProvider, ratio: object
) -> None:
    with pytest.raises(LLMWrapperError, match=r"enable_tracing: sample_ratio: expected a number"):
        tracing.enable_tracing(provider, sample_ratio=ratio)  # type: ignore[arg-type]
