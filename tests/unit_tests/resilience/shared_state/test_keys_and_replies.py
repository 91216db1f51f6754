"""The pure parts of the Redis state: where records live, and how script replies read."""

from __future__ import annotations

import pytest

from infrastructure.llm.resilience.admission import Reason, Refusal, Ticket
from infrastructure.llm.resilience.records import CLOSED_RECORD, BreakerRecord, CircuitState
from infrastructure.llm.resilience.redis.keys import KeySchema, glob_escape
from infrastructure.llm.resilience.redis.leases import CLEAN, DIRTY, Lease
from infrastructure.llm.resilience.redis.replies import (
    CLEAN_TICKET,
    DIRTY_TICKET,
    admission,
    breaker_fields,
    breaker_record,
    breaker_view,
    clock_offset,
    health_record,
    health_view,
    transition,
)

KEYS = KeySchema("app:")


def test_every_kind_of_record_has_its_own_namespace() -> None:
    assert KEYS.breaker("g.e1.i0") == "app:breaker:g.e1.i0"
    assert KEYS.cooldown("i0") == "app:cooldown:i0"
    assert KEYS.slots("limits:g.e1") == "app:slots:limits:g.e1"
    assert KEYS.rpm("limits:g.e1") == "app:rpm:limits:g.e1"
    assert KEYS.health("pool:p:i0") == "app:health:pool:p:i0"
    assert KEYS.probe("pool:p:i0") == "app:probe:pool:p:i0"
    assert KEYS.load("p:i0") == "app:load:p:i0"


def test_parse_reads_back_kind_and_record_key() -> None:
    assert KEYS.parse("app:slots:limits:g.e1") == ("slots", "limits:g.e1")
    assert KEYS.parse("app:other:x") is None
    assert KEYS.parse("else:breaker:x") is None


KINDS = ("breaker", "cooldown", "slots", "rpm", "health", "probe", "load")


def test_scan_patterns_match_only_under_the_prefix() -> None:
    assert KeySchema("a*[b]:").patterns() == [rf"a\*\[b\]:{kind}:*" for kind in KINDS]
    assert KEYS.patterns("breaker:?") == [rf"app:{kind}:breaker:\?*" for kind in KINDS]
    assert glob_escape("x\\y") == "x\\\\y"


def test_an_admit_reply_reads_as_a_refusal_with_its_wait() -> None:
    for code, reason in ((1, Reason.COOLING_DOWN), (2, Reason.OPEN), (3, Reason.FULL)):
        answer = admission([code, b"1.500000"], "", "")
        assert type(answer) is Refusal
        assert (answer.reason, answer.wait) == (reason, 1.5)


def test_an_admit_reply_reads_as_a_ticket_that_knows_what_settling_needs() -> None:
    assert admission([0, 0, 0, 1], "", "") is CLEAN_TICKET
    assert admission([0, 0, 0, 0], "", "") is DIRTY_TICKET
    probe = admission([0, 0, 1, 0], "", "")
    assert type(probe) is Ticket and probe.probe and not probe.slot and probe.lease is DIRTY
    slot = admission([0, 1, 0, 1], "app:slots:l", "7.ab.1")
    assert type(slot) is Ticket and slot.slot and not slot.probe
    lease = slot.lease
    assert isinstance(lease, Lease)
    assert (lease.key, lease.member, lease.clean) == ("app:slots:l", "7.ab.1", True)
    assert CLEAN_TICKET.lease is CLEAN and not CLEAN_TICKET.slot and not CLEAN_TICKET.probe


def test_an_rpm_admission_gives_its_ticket_a_lease_that_can_move_it() -> None:
    rated = admission([0, 0, 0, 1, b"1000.250000"], "app:slots:l", "7.ab.2", "app:rpm:l")
    assert type(rated) is Ticket and not rated.slot and not rated.probe
    lease = rated.lease
    assert isinstance(lease, Lease)
    assert (lease.key, lease.member, lease.clean) == (None, "7.ab.2", True)
    assert (lease.rpm_key, lease.admitted_at) == ("app:rpm:l", 1000.25)
    both = admission([0, 1, 0, 0, b"7.5"], "app:slots:l", "7.ab.3", "app:rpm:l")
    assert type(both) is Ticket and both.slot
    assert (both.lease.key, both.lease.rpm_key) == ("app:slots:l", "app:rpm:l")  # type: ignore[union-attr]
    assert admission([0, 0, 0, 1, b""], "", "7.ab.4", "app:rpm:l") is CLEAN_TICKET


def test_a_settle_reply_reads_as_the_transition() -> None:
    assert transition([0, 1]) == (CircuitState.CLOSED, CircuitState.OPEN)
    assert transition([2, 0]) == (CircuitState.HALF_OPEN, CircuitState.CLOSED)
    assert transition([1, 1]) is None


def test_clock_offset_is_server_time_minus_the_callers() -> None:
    assert clock_offset([b"1000", b"500000"], 10.0) == pytest.approx(990.5)


def test_breaker_records_move_between_server_time_and_the_callers_clock() -> None:
    assert breaker_record([0, 0, b"0.000000", 0], 990.0) is CLOSED_RECORD
    assert breaker_record([None, None, None, None], 990.0) is CLOSED_RECORD
    assert breaker_record([0, 2, b"0.000000", 0], 990.0) == BreakerRecord(CircuitState.CLOSED, 2)
    opened = breaker_record([b"2", b"3", b"1000.250000", b"1"], 990.0)
    assert opened == BreakerRecord(CircuitState.HALF_OPEN, 3, pytest.approx(10.25), 1)
    fields = breaker_fields(opened, 990.0)
    assert fields == {"s": 2, "f": 3, "o": "1000.250000", "p": 1}
    assert breaker_fields(BreakerRecord(CircuitState.CLOSED, 2), 990.0)["o"] == "0.000000"


def test_health_replies_read_in_the_callers_clock() -> None:
    assert health_record([b"1000", b"0"], 990.0) is None
    record = health_record([b"1000", b"0", 0, 3, b"995.500000"], 990.0)
    assert record is not None
    assert (record.healthy, record.consecutive_failures) == (False, 3)
    assert record.since == pytest.approx(5.5)


def test_operators_see_an_open_breaker_past_its_recovery_as_half_open() -> None:
    fields = {b"s": b"1", b"f": b"4", b"o": b"100.0", b"p": b"0", b"r": b"30"}
    assert breaker_view(fields, 110.0) == {
        "state": "open",
        "consecutive_failures": 4,
        "half_open_in_flight": 0,
        "seconds_until_half_open": 20.0,
    }
    assert breaker_view(fields, 131.0)["state"] == "half_open"
    unknown = breaker_view({b"s": b"1", b"f": b"1", b"o": b"100.0"}, 110.0)
    assert unknown["seconds_until_half_open"] is None


def test_operators_see_health_since_as_utc() -> None:
    view = health_view({b"h": b"0", b"f": b"2", b"since": b"0"})
    assert view == {
        "healthy": False,
        "consecutive_failures": 2,
        "since": "1970-01-01T00:00:00+00:00",
    }
