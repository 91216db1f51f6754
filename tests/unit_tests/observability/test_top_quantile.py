"""p95 from cumulative histogram buckets, as Prometheus's histogram_quantile estimates it."""

from __future__ import annotations

import math

import pytest

from infrastructure.llm.observability.top.quantile import bucket_quantile

INF = math.inf


def test_no_observation_has_no_quantile() -> None:
    assert bucket_quantile(0.95, []) is None
    assert bucket_quantile(0.95, [(0.1, 0), (INF, 0)]) is None


def test_the_rank_is_interpolated_within_its_bucket() -> None:
    # 50 at or under 0.1 s, 50 more by 0.5 s: rank 95 is 45/50 of the way from 0.1 to 0.5.
    assert bucket_quantile(0.95, [(0.1, 50), (0.5, 100), (INF, 100)]) == pytest.approx(0.46)


def test_the_first_bucket_starts_at_zero() -> None:
    assert bucket_quantile(0.5, [(1.0, 10), (INF, 10)]) == pytest.approx(0.5)


def test_empty_buckets_below_the_rank_are_skipped() -> None:
    # Nothing between 0.1 and 1.0: the rank lands in (1.0, 2.0], not at the empty bucket's edge.
    buckets = [(0.1, 0), (1.0, 0), (2.0, 4), (INF, 4)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(1.5)


def test_a_rank_above_every_bound_gives_the_highest_finite_bound() -> None:
    assert bucket_quantile(0.95, [(0.1, 1), (60.0, 1), (INF, 100)]) == 60.0


def test_buckets_may_come_in_any_order() -> None:
    assert bucket_quantile(0.95, [(INF, 100), (0.5, 100), (0.1, 50)]) == pytest.approx(0.46)
