"""How long a hedged request waits before it is raced: a fixed delay, or the p95 of answers."""

from __future__ import annotations

import pytest

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config import HedgingConfig
from infrastructure.llm.routing.hedging import Hedger


def test_fixed_delay() -> None:
    assert Hedger(HedgingConfig(delay=0.25), FakeClock()).delay() == 0.25


def test_p95_delay_waits_for_enough_samples_then_follows_them() -> None:
    hedger = Hedger(HedgingConfig(delay="p95", min_samples=20, fallback_delay=2.0), FakeClock())
    for _ in range(19):
        hedger.observe(0.1)
    assert hedger.delay() == 2.0
    hedger.observe(0.1)
    assert hedger.delay() == pytest.approx(0.1)
    for _ in range(20):
        hedger.observe(1.0)
    assert hedger.delay() == pytest.approx(1.0)
