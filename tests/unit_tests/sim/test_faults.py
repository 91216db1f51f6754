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
        ("drip:0.05", FaultMode("drip", drip_delay=0.05)),
        ("drip: 0.5 ", FaultMode("drip", drip_delay=0.5)),
        ("html", FaultMode("html")),
        ("no_choices", FaultMode("no_choices")),
        ("bad_json", FaultMode("bad_json")),
        ("empty_stream", FaultMode("empty_stream")),
        ("status:422", FaultMode("status", status_code=422)),
        ("status:599", FaultMode("status", status_code=599)),
        (
            "status:400:No connected db.",
            FaultMode("status", status_code=400, status_message="No connected db."),
        ),
        (
            "status:503: upstream: down ",
            FaultMode("status", status_code=503, status_message="upstream: down"),
        ),
        ("hang_chat", FaultMode("hang_chat")),
        ("echo_auth", FaultMode("echo_auth")),
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
        ("drip", "drip needs the seconds between body bytes"),
        ("drip:slowly", "expected a number in fault 'drip:slowly'"),
        ("drip:0", "drip_delay must be > 0 seconds, got 0.0 (in fault 'drip:0')"),
        ("drip:-0.1", "drip_delay must be > 0 seconds"),
        ("html:1", "fault mode 'html' takes no argument, got 'html:1'"),
        ("no_choices:x", "takes no argument"),
        ("bad_json:x", "takes no argument"),
        ("empty_stream:2", "takes no argument"),
        ("hang_chat:1", "takes no argument"),
        ("echo_auth:Bearer x", "takes no argument"),
        ("status", "status needs an HTTP status, e.g. 'status:422'"),
        ("status:", "empty argument"),
        ("status:abc", "whole HTTP status code, got 'abc' in 'status:abc'"),
        ("status:4o4:Not found", "whole HTTP status code, got '4o4'"),
        ("status:40.5", "whole HTTP status code"),
        ("status::message", "whole HTTP status code, got ''"),
        ("status:200", "4xx or 5xx HTTP status (400-599), got 200 (in fault 'status:200')"),
        ("status:399:almost", "got 399 (in fault 'status:399:almost')"),
        ("status:600", "got 600"),
        ("status:400:", "empty message after the status code"),
        ("status:400:   ", "empty message"),
    ],
)
def test_parse_rejects_bad_input_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        FaultMode.parse(text)
    assert message in str(info.value)


def test_every_parse_error_names_the_fault_text() -> None:
    for text in ("error_rate", "error_rate:2", "slow", "drip", "drip:0", "status:700", "status"):
        with pytest.raises(ValueError) as info:
            FaultMode.parse(text)
        assert repr(text) in str(info.value)


def test_constructor_validates_mode_and_numbers() -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'broken'"):
        FaultMode("broken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_delay must be >= 0"):
        FaultMode(chunk_delay=-0.1)
    with pytest.raises(ValueError, match="drip_delay must be > 0"):
        FaultMode("drip", drip_delay=0)
    with pytest.raises(ValueError, match=r"4xx or 5xx HTTP status \(400-599\), got 302"):
        FaultMode("status", status_code=302)
    with pytest.raises(ValueError, match="got True"):
        FaultMode("status", status_code=True)
    with pytest.raises(ValueError, match="status_message must not be empty"):
        FaultMode("status", status_code=400, status_message=" ")


def test_new_modes_have_usable_defaults() -> None:
    assert FaultMode("drip").drip_delay > 0
    status = FaultMode("status")
    assert (status.status_code, status.status_message) == (500, None)


def test_new_modes_never_draw_the_error_rate_failure() -> None:
    rng = random.Random(0)
    for mode in ("drip", "html", "no_choices", "bad_json", "empty_stream", "status", "echo_auth"):
        fault = FaultMode(mode, error_rate=1.0)  # type: ignore[arg-type]
        assert not any(fault.draw_failure(rng) for _ in range(20))


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
