"""The steps the routing engine asks its driver to carry out, and what each one returns.

The engine (`engine.py`) decides; a driver (`drivers.py`) does. Each step is one piece of
I/O or waiting: an attempt on an instance, one atomic step of the shared state, or a pause.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from infrastructure.llm.fleet.member import Member
from infrastructure.llm.resilience.admission import Gate, Ticket, Verdict
from infrastructure.llm.resilience.time_limits import AttemptLimit

T = TypeVar("T")


class Attempt:
    """Call the instance of `member`, held to `limit` (started by the driver).

    Sends back the answer; an error the call raised is thrown back in at the step.
    """

    __slots__ = ("limit", "member")

    def __init__(self, member: Member, limit: AttemptLimit) -> None:
        self.member = member
        self.limit = limit


class Admit:
    """`SharedState.admit(gate, now)`: sends back a Ticket or a Refusal."""

    __slots__ = ("gate",)

    def __init__(self, gate: Gate) -> None:
        self.gate = gate


class Settle:
    """`SharedState.settle(gate, ticket, verdict, now, cooldown)`: sends back a Transition
    or None."""

    __slots__ = ("cooldown", "gate", "ticket", "verdict")

    def __init__(self, gate: Gate, ticket: Ticket, verdict: Verdict, cooldown: float = 0.0) -> None:
        self.gate = gate
        self.ticket = ticket
        self.verdict = verdict
        self.cooldown = cooldown


class Pause:
    """Wait `seconds` on the clock; sends back None."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


Step = Attempt | Admit | Settle | Pause
Steps = Generator[Step, Any, T]
"""A decision written as a generator: it yields steps, receives their results, returns T."""
