"""How long a hedged request waits before it is raced: a fixed delay, or the p95 of answers."""

from __future__ import annotations

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config import HedgingConfig
from infrastructure.llm.routing.hedging import Hedger


def test_fixed_delay() -> None:
    assert Hedger(HedgingConfig(delay=0.25), FakeClock()).delay() == 0.25


def test_p95_delay_follows_the_first_answers_then_their_p95() -> None:
    hedger = Hedger(HedgingConfig(delay="p95", min_samples=20, fallback_delay=2.0), FakeClock())
    assert hedger.delay() == 2.0  # nothing seen yet
    hedger.observe(0.1)
    assert hedger.delay() == pytest.approx(0.1)  # the slowest answer seen so far
    hedger.observe(0.3)
    for _ in range(17):
        hedger.observe(0.1)
    assert hedger.delay() == pytest.approx(0.3)
    hedger.observe(0.1)
    assert hedger.delay() == pytest.approx(0.1)  # 20 answers: their p95
    for _ in range(20):
        hedger.observe(1.0)
    assert hedger.delay() == pytest.approx(1.0)


def test_a_cold_start_never_waits_longer_than_fallback_delay() -> None:
    hedger = Hedger(HedgingConfig(delay="p95", fallback_delay=1.0), FakeClock())
    hedger.observe(3.0)
    assert hedger.delay() == 1.0
