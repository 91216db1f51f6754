"""The latency histogram behind the metrics: each observation lands in the first bucket whose
bound it does not exceed, and buckets read back cumulative, ending at +Inf."""

from __future__ import annotations

import pytest

from infrastructure.llm.routing.histogram import Histogram


def test_observations_land_in_cumulative_buckets() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert histogram.count == 4 and histogram.total == pytest.approx(3.65)
