"""The metrics view model: two scrapes of a page and the time between them give each
wrapper's and each instance's counts, rates, p95 and breaker; no sockets."""

from __future__ import annotations

import pytest

from infrastructure.llm.observability.top.metrics_frame import metrics_frame
from infrastructure.llm.observability.top.rows import FlowRow, Frame, InstanceRow
from infrastructure.llm.observability.top.scrape import ScrapeError, parse

from .exposition import page

W = "g_wrapper"
SLOW = [("0.1", 0), ("1.0", 0), ("10.0", 10), ("+Inf", 10)]  # ten calls of 1-10 s


def frame(before: str | None, after: str, seconds: float = 2.0) -> Frame:
    previous = None if before is None else parse(before, 100.0)
    return metrics_frame("src", previous, parse(after, 100.0 + seconds))


def flow(found: Frame, name: str = W) -> FlowRow:
    [row] = [row for row in found.flows if row.name == name]
    return row


def instance(found: Frame, name: str) -> InstanceRow:
    [row] = [row for row in found.instances if row.name == name]
    return row


def test_a_first_scrape_shows_counts_and_p95_since_start_and_no_rates() -> None:
    text = page(
        calls={(W, "ok"): 10, (W, "error"): 2},
        attempts={(W, "a#0", "ok"): 10, (W, "b#0", "retryable"): 3},
        in_flight={W: 4},
        durations={W: SLOW},
        breakers={("g.echelon1", "a#0"): 0, ("g.echelon1", "b#0"): 2},
    )
    found = frame(None, text)
    assert found.window_seconds is None
    assert flow(found) == FlowRow(
        name=W,
        in_flight=4,
        calls=12,
        calls_per_second=None,
        p95_seconds=pytest.approx(1.0 + 9.0 * 9.5 / 10),
        errors=2,
        errors_per_second=None,
    )
    assert instance(found, "a#0") == InstanceRow(
        name="a#0", breaker="closed", calls=10, errors=0, top_error=None
    )
    assert instance(found, "b#0") == InstanceRow(
        name="b#0", breaker="open", calls=3, errors=3, top_error="retryable"
    )
    assert any("first scrape" in note for note in found.notes)


def test_rates_and_p95_cover_only_the_time_between_the_scrapes() -> None:
    before = page(
        calls={(W, "ok"): 10},
        attempts={(W, "a#0", "ok"): 10},
        durations={W: SLOW},
    )
    # Four more calls in 2 s, all under 0.1 s, one of them failed on b#0 before a#0 answered.
    after = page(
        calls={(W, "ok"): 13, (W, "error"): 1},
        attempts={(W, "a#0", "ok"): 13, (W, "b#0", "timeout"): 1},
        durations={W: [("0.1", 3), ("1.0", 3), ("10.0", 13), ("+Inf", 13)]},
    )
    found = frame(before, after, seconds=2.0)
    assert found.window_seconds == 2.0
    row = flow(found)
    assert (row.calls, row.calls_per_second) == (14, 2.0)
    assert (row.errors, row.errors_per_second) == (1, 0.5)
    assert row.p95_seconds == pytest.approx(0.1 * 0.95)  # the slow calls before are left out
    a, b = instance(found, "a#0"), instance(found, "b#0")
    assert (a.calls, a.calls_per_second, a.errors_per_second) == (13, 1.5, 0.0)
    assert (b.calls, b.calls_per_second, b.errors, b.errors_per_second) == (1, 0.5, 1, 0.5)
    assert b.top_error == "timeout"
    assert not any("first scrape" in note for note in found.notes)


def test_instances_show_attempts_in_flight_over_every_target() -> None:
    text = page(
        attempts={(W, "a#0", "ok"): 1},
        attempts_in_flight={
            ("g.echelon1", "a#0"): 1,
            ("fast_pool", "a#0"): 2,
            ("g.echelon1", "b#0"): 0,
        },
    )
    found = frame(None, text)
    assert (instance(found, "a#0").in_flight, instance(found, "b#0").in_flight) == (3, 0)


def test_a_page_without_the_in_flight_gauge_leaves_it_unknown() -> None:
    text = page(attempts={(W, "a#0", "ok"): 1})
    assert instance(frame(None, text), "a#0").in_flight is None


def test_an_instances_p95_is_over_its_answered_attempts_since_start() -> None:
    text = page(
        attempts={(W, "a#0", "ok"): 10, (W, "a#0", "timeout"): 50},
        attempt_durations={
            (W, "a#0", "ok"): SLOW,
            # Failed attempts are left out, however long they took.
            (W, "a#0", "error"): [("0.1", 0), ("1.0", 0), ("10.0", 0), ("+Inf", 50)],
        },
    )
    assert instance(frame(None, text), "a#0").p95_seconds == pytest.approx(1.0 + 9.0 * 9.5 / 10)


def test_an_instances_p95_is_over_the_window_and_every_wrapper() -> None:
    before = page(attempts={(W, "a#0", "ok"): 10}, attempt_durations={(W, "a#0", "ok"): SLOW})
    # In the window: 10 fast attempts through W and 10 of 0.1-1 s through another wrapper.
    after = page(
        attempts={(W, "a#0", "ok"): 20, ("p_wrapper", "a#0", "ok"): 10},
        attempt_durations={
            (W, "a#0", "ok"): [("0.1", 10), ("1.0", 10), ("10.0", 20), ("+Inf", 20)],
            ("p_wrapper", "a#0", "ok"): [("0.1", 0), ("1.0", 10), ("10.0", 10), ("+Inf", 10)],
        },
    )
    row = instance(frame(before, after), "a#0")
    assert row.p95_seconds == pytest.approx(0.1 + 0.9 * (19 - 10) / 10)


def test_an_instance_without_answered_attempts_has_no_p95() -> None:
    text = page(
        attempts={(W, "a#0", "timeout"): 4},
        attempt_durations={(W, "a#0", "error"): [("0.1", 0), ("+Inf", 4)]},
    )
    assert instance(frame(None, text), "a#0").p95_seconds is None


def test_a_window_without_answered_calls_has_no_p95() -> None:
    text = page(calls={(W, "ok"): 10}, durations={W: SLOW})
    row = flow(frame(text, text))
    assert (row.calls_per_second, row.p95_seconds) == (0.0, None)


def test_a_counter_that_went_back_counts_from_zero() -> None:
    # The process restarted between the scrapes: 3 calls since, not -7.
    found = frame(page(calls={(W, "ok"): 10}), page(calls={(W, "ok"): 3}), seconds=1.0)
    assert flow(found).calls_per_second == 3.0


def test_the_commonest_error_kind_of_the_window_wins_over_older_ones() -> None:
    before = page(attempts={(W, "a#0", "retryable"): 9})
    after = page(attempts={(W, "a#0", "retryable"): 9, (W, "a#0", "rate_limited"): 2})
    row = instance(frame(before, after), "a#0")
    assert (row.errors, row.top_error) == (11, "rate_limited")


def test_attempts_of_every_wrapper_add_up_per_instance() -> None:
    text = page(attempts={(W, "a#0", "ok"): 2, ("p_wrapper", "a#0", "ok"): 5})
    assert instance(frame(None, text), "a#0").calls == 7


def test_a_breaker_that_differs_between_targets_is_shown_per_target() -> None:
    text = page(breakers={("g.echelon1", "a#0"): 2, ("h.echelon1", "a#0"): 1})
    assert instance(frame(None, text), "a#0").breaker == "g.echelon1 open, h.echelon1 half_open"


def test_pools_healthy_counts_are_a_note() -> None:
    found = frame(None, page(healthy={"fast_pool": 2, "slow_pool": 0}))
    assert "healthy instances per pool: fast_pool 2, slow_pool 0" in found.notes


def test_secrets_in_names_are_masked() -> None:
    text = page(attempts={(W, "sk-abcdefghijklmnop#0", "ok"): 1})
    [row] = frame(None, text).instances
    assert "abcdefghijklmnop" not in row.name and row.name.startswith("sk-***")


def test_scrapes_at_the_same_time_are_refused() -> None:
    text = page(calls={(W, "ok"): 1})
    with pytest.raises(ValueError, match="apart in time"):
        metrics_frame("src", parse(text, 5.0), parse(text, 5.0))


def test_other_metrics_on_the_page_are_ignored() -> None:
    extra = "# TYPE process_open_fds gauge\nprocess_open_fds 12.0\n"
    scrape = parse(page(calls={(W, "ok"): 1}, extra=extra), 0.0)
    assert all(name.startswith("llm_wrappers_") for name in scrape.samples)
    assert scrape.series("calls_total") == {(("outcome", "ok"), ("wrapper", W)): 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<html><body>Not Found</body></html>", "not Prometheus metrics text"),
        ("# TYPE process_open_fds gauge\nprocess_open_fds 12.0\n", "no llm_wrappers_"),
    ],
)
def test_a_page_of_something_else_is_a_scrape_error(text: str, message: str) -> None:
    with pytest.raises(ScrapeError, match=message):
        parse(text, 0.0)
