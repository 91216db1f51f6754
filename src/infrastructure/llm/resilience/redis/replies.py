"""Script replies read into the values the routing uses; times moved to the caller's clock.

Redis stores server times. A record handed to a caller has its times in the caller's clock:
each reply that carries a stored time also carries the server's TIME, and the difference to
`clock.now()` read on arrival converts one into the other (off by at most the round trip).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from infrastructure.llm.resilience.admission import Reason, Refusal, Ticket
from infrastructure.llm.resilience.records import (
    CLOSED_RECORD,
    BreakerRecord,
    CircuitState,
    HealthRecord,
)
from infrastructure.llm.resilience.redis.leases import CLEAN, DIRTY, Lease

Reply = Sequence[Any]
"""A script's reply: integers and byte strings."""

STATES = (CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN)
"""Breaker states by their code in Redis."""

_REASONS = (None, Reason.COOLING_DOWN, Reason.OPEN, Reason.FULL)

CLEAN_TICKET = Ticket(False, False, CLEAN)
"""Neither slot nor probe, breaker closed with no failures: a success writes nothing."""
DIRTY_TICKET = Ticket(False, False, DIRTY)
"""Neither slot nor probe, failures counted: a success clears them."""


def admission(
    reply: Reply, slots_key: str, member: str, rpm_key: str = "", asked_mono: float = 0.0
) -> Ticket | Refusal:
    """An admit reply as a ticket (its lease on `member`: of `slots_key` when it took a slot,
    of `rpm_key` when it was admitted under an rpm limit, the admit sent at `asked_mono`) or a
    refusal."""
    code = reply[0]
    if code:
        return Refusal(_REASONS[code], float(reply[1]))
    slot, probe, clean = reply[1], reply[2], reply[3] == 1
    admitted = reply[4] if len(reply) > 4 else b""
    if slot or admitted:
        lease = Lease(
            slots_key if slot else None,
            member,
            clean,
            rpm_key if admitted else None,
            float(admitted) if admitted else 0.0,
            asked_mono,
        )
        return Ticket(slot == 1, probe == 1, lease)
    if probe:
        return Ticket(False, True, DIRTY)
    return CLEAN_TICKET if clean else DIRTY_TICKET


def transition(reply: Reply) -> tuple[CircuitState, CircuitState] | None:
    """A settle reply as the breaker's transition, None when its state stayed."""
    old, new = reply
    return (STATES[old], STATES[new]) if old != new else None


def clock_offset(reply: Reply, now: float) -> float:
    """Server time minus the caller's clock, from a reply that starts with the server's TIME
    and `now`, the caller's clock when it arrived."""
    return int(reply[0]) + int(reply[1]) / 1_000_000 - now


def breaker_record(fields: Sequence[Any], offset: float) -> BreakerRecord:
    """A stored breaker (s, f, o, p: ints or byte strings, None when absent) as a record in
    the caller's clock (`offset`: see clock_offset)."""
    state, failures, probes = int(fields[0] or 0), int(fields[1] or 0), int(fields[3] or 0)
    if state == 0:
        return CLOSED_RECORD if failures == 0 else BreakerRecord(CircuitState.CLOSED, failures)
    return BreakerRecord(STATES[state], failures, float(fields[2] or 0) - offset, probes)


def breaker_fields(record: BreakerRecord, offset: float) -> dict[str, str | int]:
    """The hash fields that store `record` (times in the caller's clock) in server time."""
    opened_at = 0.0 if record.state is CircuitState.CLOSED else record.opened_at + offset
    return {
        "s": STATES.index(record.state),
        "f": record.consecutive_failures,
        "o": f"{opened_at:.6f}",
        "p": record.half_open_in_flight,
    }


def health_record(reply: Reply, offset: float) -> HealthRecord | None:
    """A record_health or read_health reply as a record in the caller's clock."""
    if len(reply) < 5:
        return None
    return HealthRecord(reply[2] == 1, reply[3], float(reply[4]) - offset)


def breaker_view(fields: dict[bytes, bytes], now: float) -> dict[str, Any]:
    """A stored breaker hash as operators read it at server time `now`: an open breaker past
    its recovery time reads as half-open."""
    state = STATES[int(fields.get(b"s", 0))]
    opened_at = float(fields.get(b"o", 0))
    recovery = fields.get(b"r")
    until = None if recovery is None else max(opened_at + float(recovery) - now, 0.0)
    if state is CircuitState.OPEN and until == 0.0:
        state = CircuitState.HALF_OPEN
    return {
        "state": state.value,
        "consecutive_failures": int(fields.get(b"f", 0)),
        "half_open_in_flight": int(fields.get(b"p", 0)),
        "seconds_until_half_open": until if state is CircuitState.OPEN else 0.0,
    }


def health_view(fields: dict[bytes, bytes]) -> dict[str, Any]:
    """A stored health hash as operators read it; `since` as ISO-8601 UTC."""
    since = datetime.fromtimestamp(float(fields.get(b"since", 0)), timezone.utc)
    return {
        "healthy": fields.get(b"h") == b"1",
        "consecutive_failures": int(fields.get(b"f", 0)),
        "since": since.isoformat(timespec="seconds"),
    }
