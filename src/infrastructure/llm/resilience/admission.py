"""What the routing asks the shared state about one instance: may a call go there now, and
what came of it. Each question is one atomic step of the state (`admit`, `settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from infrastructure.llm.resilience.circuit_breaker import BreakerPolicy
from infrastructure.llm.resilience.limits import Limits


@dataclass(frozen=True, slots=True)
class Gate:
    """Everything that admits calls to one instance of one echelon: its cool-down (per
    instance), its breaker (per group and instance) and its echelon's limits."""

    instance_key: str
    breaker_key: str
    policy: BreakerPolicy
    limits: Limits | None


class Ticket:
    """Permission for one attempt: whether it holds a concurrency slot and a half-open probe,
    and what the state that issued it needs to settle it (`lease`: a networked state's claim
    on its slot; None from an in-memory state)."""

    __slots__ = ("lease", "probe", "slot")

    def __init__(self, slot: bool, probe: bool, lease: object | None = None) -> None:
        self.slot = slot
        self.probe = probe
        self.lease = lease


FREE_TICKET = Ticket(False, False)
"""The ticket of a call that holds neither a slot nor a probe; settling it frees nothing."""


class Reason(Enum):
    """Why an instance cannot take a call now."""

    COOLING_DOWN = "cooling down"
    OPEN = "open"
    FULL = "full"


class Refusal:
    """No call now: why, and in how many seconds to look again (for FULL the next rate token,
    0 when only a slot is missing, which nobody can predict; else when the breaker half-opens
    or the cool-down ends)."""

    __slots__ = ("reason", "wait")

    def __init__(self, reason: Reason, wait: float = 0.0) -> None:
        self.reason = reason
        self.wait = wait


class Verdict(Enum):
    """What came of an admitted attempt, for the breaker, the cool-down and the slot."""

    ANSWERED = "answered"  # breaker success (a 400 counts: the instance is alive); slot back
    STREAM_OPENED = "stream opened"  # breaker success; the slot is kept until the stream ends
    STREAM_ENDED = "stream ended"  # slot back, nothing else
    FAILED = "failed"  # breaker failure, cool-down for a Retry-After; slot back
    MISCONFIGURED = "misconfigured"  # breaker failure, cool-down for recovery_time; slot back
    ABANDONED = "abandoned"  # no verdict on the instance: half-open probe and slot back
    OUTRUN = "outrun"  # a hedge twin answered first while this one still waited: slow, a failure
