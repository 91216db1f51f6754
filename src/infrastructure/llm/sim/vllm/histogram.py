"""A Prometheus-style histogram: observations counted into fixed buckets."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HistogramSnapshot:
    """Cumulative counts per upper bound (the last bound is +Inf), their sum and count."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    total: float
    count: int


class Histogram:
    """Observations counted into fixed buckets, as a Prometheus histogram."""

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError(f"histogram bounds must increase, got {list(bounds)}")
        self._bounds = tuple(bounds)
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        """The cumulative view a scrape reports."""
        cumulative, running = [], 0
        for count in self._counts:
            running += count
            cumulative.append(running)
        bounds = (*self._bounds, float("inf"))
        return HistogramSnapshot(bounds, tuple(cumulative), self._sum, running)
