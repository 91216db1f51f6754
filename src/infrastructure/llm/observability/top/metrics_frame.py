"""A frame from two scrapes of the metrics: counts as they stand, rates and p95 over the time
between the scrapes (or counts and p95 since the process started, from a first scrape).

A wrapper's p95 is over its answered calls, an instance's over its answered attempts (for a
stream: to the first chunk), from the buckets filled in the window."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from infrastructure.llm.observability.metrics import BREAKER_STATES
from infrastructure.llm.observability.top.quantile import bucket_quantile
from infrastructure.llm.observability.top.rows import FlowRow, Frame, InstanceRow, uniform_or_each
from infrastructure.llm.observability.top.scrape import Labels, Scrape
from infrastructure.llm.redaction import redact

_STATE_NAMES = {number: name for name, number in BREAKER_STATES.items()}
P95 = 0.95


class _Window:
    """Two scrapes (the first may be missing) and what changed between them."""

    def __init__(self, previous: Scrape | None, current: Scrape) -> None:
        self.previous = previous
        self.current = current
        self.seconds = None if previous is None else current.at - previous.at
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"scrapes must be apart in time (got {self.seconds} s)")

    def increases(self, name: str) -> dict[Labels, float]:
        """How much each counter `name` grew since the previous scrape (its whole value when
        it was reset or is new; empty without a previous scrape)."""
        if self.previous is None:
            return {}
        before = self.previous.series(name)
        grown = {}
        for labels, now in self.current.series(name).items():
            then = before.get(labels, 0.0)
            grown[labels] = now - then if now >= then else now
        return grown

    def rate(self, increase: float) -> float | None:
        return None if self.seconds is None else increase / self.seconds


def metrics_frame(source: str, previous: Scrape | None, current: Scrape) -> Frame:
    """The frame of `current`, with rates and p95 over the time since `previous` (when given)."""
    window = _Window(previous, current)
    notes = []
    if window.seconds is None:
        notes.append("first scrape: counts and p95 since start; rates from the next refresh")
    healthy = current.series("pool_healthy_instances")
    if healthy:
        pools = ", ".join(
            f"{redact(dict(labels)['pool'])} {int(count)}"
            for labels, count in sorted(healthy.items())
        )
        notes.append(f"healthy instances per pool: {pools}")
    return Frame(
        source=source,
        flow_label="WRAPPER",
        window_seconds=window.seconds,
        flows=tuple(_wrappers(window)),
        instances=tuple(_instances(window)),
        notes=tuple(notes),
    )


def _wrappers(window: _Window) -> Iterable[FlowRow]:
    current = window.current
    calls = _sum_by(current.series("calls_total"), "wrapper")
    errors = _sum_by(current.series("calls_total"), "wrapper", outcome="error")
    grown = window.increases("calls_total")
    calls_grown = _sum_by(grown, "wrapper")
    errors_grown = _sum_by(grown, "wrapper", outcome="error")
    in_flight = _sum_by(current.series("calls_in_flight"), "wrapper")
    latency = _buckets(window, "call_duration_seconds_bucket", "wrapper")
    for name in sorted(calls.keys() | in_flight.keys()):
        yield FlowRow(
            name=redact(name),
            in_flight=int(in_flight.get(name, 0)),
            calls=int(calls.get(name, 0)),
            calls_per_second=window.rate(calls_grown.get(name, 0.0)),
            p95_seconds=bucket_quantile(P95, latency.get(name, [])),
            errors=int(errors.get(name, 0)),
            errors_per_second=window.rate(errors_grown.get(name, 0.0)),
        )


def _instances(window: _Window) -> Iterable[InstanceRow]:
    current = window.current
    attempts = current.series("attempts_total")
    calls = _sum_by(attempts, "instance")
    grown = window.increases("attempts_total")
    calls_grown = _sum_by(grown, "instance")
    errors = _errors_by_instance(attempts)
    errors_grown = _errors_by_instance(grown)
    breakers = _breakers(current.series("breaker_state"))
    in_flight = _sum_by(current.series("instance_attempts_in_flight"), "instance")
    latency = _buckets(window, "attempt_duration_seconds_bucket", "instance", outcome="ok")
    for name in sorted(calls.keys() | breakers.keys() | in_flight.keys()):
        yield InstanceRow(
            name=redact(name),
            breaker=breakers.get(name),
            in_flight=_count(in_flight.get(name)),
            calls=int(calls.get(name, 0)),
            calls_per_second=window.rate(calls_grown.get(name, 0.0)),
            p95_seconds=bucket_quantile(P95, latency.get(name, [])),
            errors=sum(errors[name].values()),
            errors_per_second=window.rate(sum(errors_grown[name].values())),
            top_error=_most_common(errors_grown[name]) or _most_common(errors[name]),
        )


def _sum_by(series: Mapping[Labels, float], label: str, **only: str) -> dict[str, float]:
    """`series` summed by the value of `label`, over samples whose labels match `only`."""
    sums: dict[str, float] = defaultdict(float)
    for labels, value in series.items():
        found = dict(labels)
        if _matches(found, only):
            sums[found[label]] += value
    return sums


def _matches(labels: Mapping[str, str], only: Mapping[str, str]) -> bool:
    """Whether `labels` carry every value `only` asks for."""
    return all(labels.get(k) == v for k, v in only.items())


def _errors_by_instance(attempts: Mapping[Labels, float]) -> dict[str, Counter[str]]:
    """The attempts that failed, by instance and error kind."""
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for labels, count in attempts.items():
        found = dict(labels)
        if found["outcome"] != "ok":
            errors[found["instance"]][found["outcome"]] += int(count)
    return errors


def _buckets(
    window: _Window, name: str, label: str, **only: str
) -> dict[str, list[tuple[float, float]]]:
    """The cumulative buckets of histogram `name` by the value of `label`, over series whose
    labels match `only` (added up bound by bound): those filled between the scrapes, or all
    since start on a first scrape."""
    series = window.increases(name) if window.seconds is not None else window.current.series(name)
    by_value: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for labels, count in series.items():
        found = dict(labels)
        if _matches(found, only):
            by_value[found[label]][float(found["le"])] += count
    return {value: list(bounds.items()) for value, bounds in by_value.items()}


def _count(value: float | None) -> int | None:
    """A gauge's value as a count; None when the page has no such sample."""
    return None if value is None else int(value)


def _breakers(series: Mapping[Labels, float]) -> dict[str, str | None]:
    """Each instance's breaker: its state, or `target state` pairs when its targets differ."""
    states: dict[str, dict[str, str]] = defaultdict(dict)
    for labels, value in series.items():
        found = dict(labels)
        states[found["instance"]][redact(found["target"])] = _STATE_NAMES.get(
            int(value), str(value)
        )
    return {instance: uniform_or_each(by_target) for instance, by_target in states.items()}


def _most_common(kinds: Counter[str]) -> str | None:
    """The error kind seen most often; None when none was."""
    top = [kind for kind, count in kinds.most_common(1) if count > 0]
    return top[0] if top else None
