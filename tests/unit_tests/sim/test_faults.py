"""FaultMode: validation and the CLI's `mode:arg` syntax."""

from __future__ import annotations

import random

import pytest

from infrastructure.llm.sim import FaultMode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("healthy", FaultMode("healthy")),
        (" hang ", FaultMode("hang")),
        ("refuse", FaultMode("refuse")),
        ("slow:0.2", FaultMode("slow", latency=0.2)),
        ("slow:0.1-0.5", FaultMode("slow", latency=0.1, latency_max=0.5)),
        ("error_rate:0.3", FaultMode("error_rate", error_rate=0.3)),
        ("rate_limit", FaultMode("rate_limit")),
        ("rate_limit:2", FaultMode("rate_limit", retry_after=2.0)),
        ("cut_stream", FaultMode("cut_stream")),
        ("cut_stream:3", FaultMode("cut_stream", cut_after=3)),
    ],
)
def test_parse_accepts_the_documented_syntax(text: str, expected: FaultMode) -> None:
    assert FaultMode.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sloow:1", "unknown fault mode 'sloow'"),
        ("slow", "slow needs a latency"),
        ("slow:", "empty argument"),
        ("slow:fast", "expected a number in fault 'slow:fast'"),
        ("slow:0.5-0.1", "latency_max (0.1) must be >= latency (0.5)"),
        ("error_rate", "error_rate needs a fraction"),
        ("error_rate:1.5", "error_rate must be in [0, 1]"),
        ("cut_stream:2.5", "whole number of chunks"),
        ("hang:3", "takes no argument"),
        ("rate_limit:-1", "retry_after must be >= 0"),
    ],
)
def test_parse_rejects_bad_input_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        FaultMode.parse(text)
    assert message in str(info.value)


def test_constructor_validates_mode_and_numbers() -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'broken'"):
        FaultMode("broken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_delay must be >= 0"):
        FaultMode(chunk_delay=-0.1)


def test_slow_range_draws_within_bounds() -> None:
    fault = FaultMode("slow", latency=0.1, latency_max=0.3)
    rng = random.Random(1)
    delays = [fault.draw_delay(rng) for _ in range(200)]
    assert all(0.1 <= d <= 0.3 for d in delays)
    assert len(set(delays)) > 1


def test_rate_limit_hits_every_request_unless_a_fraction_is_given() -> None:
    rng = random.Random(0)
    assert all(FaultMode("rate_limit").draw_failure(rng) for _ in range(50))
    partial = [FaultMode("rate_limit", error_rate=0.5).draw_failure(rng) for _ in range(200)]
    assert 0 < sum(partial) < 200
    assert not any(FaultMode("healthy").draw_failure(rng) for _ in range(50))
