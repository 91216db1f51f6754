"""Metrics pages as the factory's endpoint writes them, built from a few figures: the same
families and labels as `FleetCollector`, rendered by prometheus_client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

Buckets = Sequence[tuple[str, float]]


def page(
    calls: Mapping[tuple[str, str], float] = {},
    attempts: Mapping[tuple[str, str, str], float] = {},
    in_flight: Mapping[str, float] = {},
    durations: Mapping[str, Buckets] = {},
    attempt_durations: Mapping[tuple[str, str, str], Buckets] = {},
    attempts_in_flight: Mapping[tuple[str, str], float] = {},
    breakers: Mapping[tuple[str, str], int] = {},
    healthy: Mapping[str, int] = {},
    extra: str = "",
) -> str:
    """A page with these samples: calls by (wrapper, outcome), attempts by (wrapper,
    instance, outcome), calls in flight by wrapper, cumulative duration buckets by wrapper,
    cumulative attempt duration buckets by (wrapper, instance, outcome), attempts in flight by
    (target, instance), breaker states by (target, instance), healthy instances by pool."""

    class Families:
        def collect(self) -> Iterator[Metric]:
            family = CounterMetricFamily("llm_wrappers_calls", "", labels=["wrapper", "outcome"])
            for labels, value in calls.items():
                family.add_metric(list(labels), value)
            yield family
            family = CounterMetricFamily(
                "llm_wrappers_attempts", "", labels=["wrapper", "instance", "outcome"]
            )
            for labels, value in attempts.items():
                family.add_metric(list(labels), value)
            yield family
            gauge = GaugeMetricFamily("llm_wrappers_calls_in_flight", "", labels=["wrapper"])
            for wrapper, value in in_flight.items():
                gauge.add_metric([wrapper], value)
            yield gauge
            histogram = HistogramMetricFamily(
                "llm_wrappers_call_duration_seconds", "", labels=["wrapper"]
            )
            for wrapper, buckets in durations.items():
                histogram.add_metric([wrapper], buckets=list(buckets), sum_value=0.0)
            yield histogram
            histogram = HistogramMetricFamily(
                "llm_wrappers_attempt_duration_seconds",
                "",
                labels=["wrapper", "instance", "outcome"],
            )
            for labels, buckets in attempt_durations.items():
                histogram.add_metric(list(labels), buckets=list(buckets), sum_value=0.0)
            yield histogram
            gauge = GaugeMetricFamily(
                "llm_wrappers_instance_attempts_in_flight", "", labels=["target", "instance"]
            )
            for labels, value in attempts_in_flight.items():
                gauge.add_metric(list(labels), value)
            yield gauge
            gauge = GaugeMetricFamily(
                "llm_wrappers_breaker_state", "", labels=["target", "instance"]
            )
            for labels, value in breakers.items():
                gauge.add_metric(list(labels), value)
            yield gauge
            gauge = GaugeMetricFamily("llm_wrappers_pool_healthy_instances", "", labels=["pool"])
            for pool, value in healthy.items():
                gauge.add_metric([pool], value)
            yield gauge

    registry = CollectorRegistry()
    registry.register(Families())  # type: ignore[arg-type]
    return extra + generate_latest(registry).decode()
