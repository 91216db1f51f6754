"""Prometheus metrics of a factory's wrappers, read from their statistics when scraped: calls
pay nothing for them, and nothing is counted twice.

Counters (`_total`): calls by outcome, attempts by instance and outcome (`ok` or the error
kind), retries, fallbacks, hedges, offline answers, cache lookups by result. Histograms: call
duration, time to first chunk, and attempt duration by instance and outcome (`ok` or `error`:
seconds to the answer, for a stream to its first chunk, or to the failure). Gauges: calls in
flight per wrapper, attempts in flight per target and instance (admitted and not given back:
a stream holds its attempt until it ends), breaker state per target and instance (0 closed,
1 half-open, 2 open), healthy instances per pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from infrastructure.llm.fleet.candidates import CandidateSet
from infrastructure.llm.fleet.pool import PollingPool
from infrastructure.llm.wrappers.base import BaseLLMWrapper

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
_CACHE_RESULTS = {"exact": "exact_hits", "semantic": "semantic_hits", "miss": "misses"}


class FleetCollector(Collector):
    """Collects the metrics of the wrappers `wrappers()` returns at each scrape."""

    def __init__(self, wrappers: Callable[[], Iterable[BaseLLMWrapper]]) -> None:
        self._wrappers = wrappers

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        breakers: dict[tuple[str, str], int] = {}
        pools: dict[str, int] = {}
        # Wrappers may share candidate sets: each set's own counts are read once.
        sets: dict[int, CandidateSet] = {}
        for wrapper in self._wrappers():
            families.add_wrapper(wrapper)
            for stage in wrapper._router.plan.stages:
                candidates = stage.candidates
                sets[id(candidates)] = candidates
                for instance, snapshot in candidates.breaker_states().items():
                    breakers[(candidates.name, instance)] = BREAKER_STATES[snapshot["state"]]
                if isinstance(candidates, PollingPool):
                    pools[candidates.name] = candidates.health.healthy_count
        in_flight: dict[tuple[str, str], int] = {}
        for candidates in sets.values():
            for instance, count in candidates.in_flight().items():
                key = (candidates.name, instance)
                in_flight[key] = in_flight.get(key, 0) + count
        for (target, instance), count in sorted(in_flight.items()):
            families.attempts_in_flight.add_metric([target, instance], count)
        for (target, instance), state in sorted(breakers.items()):
            families.breaker.add_metric([target, instance], state)
        for pool, healthy in sorted(pools.items()):
            families.healthy.add_metric([pool], healthy)
        yield from families.all()


class _Families:
    """The metric families of one scrape, filled wrapper by wrapper."""

    def __init__(self) -> None:
        w = ["wrapper"]
        self.calls = CounterMetricFamily(
            "llm_wrappers_calls", "Calls routed, by outcome.", labels=[*w, "outcome"]
        )
        self.attempts = CounterMetricFamily(
            "llm_wrappers_attempts",
            "Attempts on instances, by outcome: ok, or the error kind.",
            labels=[*w, "instance", "outcome"],
        )
        self.retries = CounterMetricFamily("llm_wrappers_retries", "Retries.", labels=w)
        self.fallbacks = CounterMetricFamily(
            "llm_wrappers_fallbacks", "Hops to a fallback target.", labels=w
        )
        self.hedges = CounterMetricFamily("llm_wrappers_hedges", "Hedged requests.", labels=w)
        self.offline = CounterMetricFamily(
            "llm_wrappers_offline_answers",
            "Calls no instance answered, answered by the mock (offline_fallback).",
            labels=w,
        )
        self.cache = CounterMetricFamily(
            "llm_wrappers_cache_lookups", "Cache lookups, by result.", labels=[*w, "result"]
        )
        self.duration = HistogramMetricFamily(
            "llm_wrappers_call_duration_seconds", "Duration of answered calls.", labels=w
        )
        self.first_chunk = HistogramMetricFamily(
            "llm_wrappers_time_to_first_chunk_seconds",
            "Time to the first chunk of answered streams.",
            labels=w,
        )
        self.attempt_duration = HistogramMetricFamily(
            "llm_wrappers_attempt_duration_seconds",
            "Duration of attempts on instances (a stream: to its first chunk), by outcome: "
            "ok or error.",
            labels=[*w, "instance", "outcome"],
        )
        self.in_flight = GaugeMetricFamily(
            "llm_wrappers_calls_in_flight", "Calls started and not ended.", labels=w
        )
        self.attempts_in_flight = GaugeMetricFamily(
            "llm_wrappers_instance_attempts_in_flight",
            "Attempts admitted to an instance and not ended (a stream's until it ends), per "
            "target.",
            labels=["target", "instance"],
        )
        self.breaker = GaugeMetricFamily(
            "llm_wrappers_breaker_state",
            "Circuit breaker per target and instance: 0 closed, 1 half-open, 2 open.",
            labels=["target", "instance"],
        )
        self.healthy = GaugeMetricFamily(
            "llm_wrappers_pool_healthy_instances", "Healthy instances of a pool.", labels=["pool"]
        )

    def add_wrapper(self, wrapper: BaseLLMWrapper) -> None:
        name = wrapper.name or wrapper.routed_name
        seen = wrapper._router.stats.for_metrics()
        for outcome in ("ok", "error"):
            self.calls.add_metric([name, outcome], seen[outcome])
        for (instance, outcome), count in sorted(seen["attempts"].items()):
            self.attempts.add_metric([name, instance, outcome], count)
        self.retries.add_metric([name], seen["retries"])
        self.fallbacks.add_metric([name], seen["fallbacks"])
        self.hedges.add_metric([name], seen["hedges"])
        self.offline.add_metric([name], seen["offline_answers"])
        self.in_flight.add_metric([name], seen["in_flight"])
        for family, key in (
            (self.duration, "call_seconds"),
            (self.first_chunk, "first_chunk_seconds"),
        ):
            buckets, total = seen[key]
            family.add_metric([name], buckets=buckets, sum_value=total)
        for (instance, outcome), (buckets, total) in sorted(seen["attempt_seconds"].items()):
            self.attempt_duration.add_metric(
                [name, instance, outcome], buckets=buckets, sum_value=total
            )
        cache = wrapper.response_cache
        if cache is not None:
            counts = cache.stats.snapshot()
            for result, field in _CACHE_RESULTS.items():
                self.cache.add_metric([name, result], counts[field])

    def all(self) -> list[Metric]:
        return [
            self.calls,
            self.attempts,
            self.retries,
            self.fallbacks,
            self.hedges,
            self.offline,
            self.cache,
            self.duration,
            self.first_chunk,
            self.attempt_duration,
            self.in_flight,
            self.attempts_in_flight,
            self.breaker,
            self.healthy,
        ]
