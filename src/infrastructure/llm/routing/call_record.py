"""What happened during one routed call: attempts, retries, hops, hedges and who answered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infrastructure.llm.errors import describe_error
from infrastructure.llm.routing.deadline import Deadline
from infrastructure.llm.routing.history import FallbackEvent

if TYPE_CHECKING:
    from infrastructure.llm.fleet.member import Member


class CallRecord:
    """Collected while a call is routed; feeds stats, history, metadata and error messages.

    `busy` names the instances this call is using right now; hedge lanes share it so a
    hedge goes to a different instance than the attempt it races.
    """

    __slots__ = (
        "affinity",
        "attempts",
        "busy",
        "deadline",
        "failures",
        "fallbacks",
        "hedges",
        "hops",
        "instance_outcomes",
        "out_of_time",
        "outrun",
        "rejection",
        "rejection_confirmed",
        "retries",
        "wrapper",
    )

    def __init__(
        self,
        deadline: Deadline,
        busy: set[str] | None = None,
        wrapper: str = "",
        affinity: str | None = None,
    ) -> None:
        self.deadline = deadline
        self.wrapper = wrapper
        """The name of the wrapper the call went through, for log lines."""
        self.affinity = affinity
        """The call's affinity key: a session id or a prompt prefix's hash (`affinity.py`)."""
        self.attempts = 0
        self.retries = 0
        self.fallbacks = 0
        self.hedges = 0
        self.instance_outcomes: list[tuple[str, str, float]] = []
        """(instance, "ok" or what failed: an error kind, or "outrun", seconds it took) for
        each attempt."""
        self.failures: list[str] = []
        self.hops: list[FallbackEvent] = []
        self.busy: set[str] = set() if busy is None else busy
        self.rejection: tuple[Member, Exception] | None = None
        """The first refusal of the request (400, 422), until another instance confirms or
        answers it."""
        self.rejection_confirmed = False
        self.out_of_time = False
        """Set when a retry was due but the deadline left no time for it."""
        self.outrun = False
        """Set on a hedge lane that another lane, started after it, beat: its attempt in
        flight is cancelled as too slow (it counts against the instance)."""

    def awaits_confirmation(self, exc: BaseException) -> bool:
        """Whether `exc` is a refusal still to be confirmed elsewhere."""
        rejection = self.rejection
        return rejection is not None and exc is rejection[1] and not self.rejection_confirmed

    def note_failure(self, where: str, exc: BaseException) -> None:
        """Remember a failure as `where: ErrorType: message` for the final error."""
        self.failures.append(f"{where}: {describe_error(exc, where)}")

    def lane(self) -> CallRecord:
        """A record for one hedge lane: same deadline and busy set, its own counts."""
        return CallRecord(self.deadline, self.busy, self.wrapper, self.affinity)

    def absorb(self, lane: CallRecord) -> None:
        """Add a finished lane's counts to this record."""
        self.attempts += lane.attempts
        self.retries += lane.retries
        self.fallbacks += lane.fallbacks
        self.instance_outcomes.extend(lane.instance_outcomes)
        self.failures.extend(lane.failures)
        self.hops.extend(lane.hops)
        self.out_of_time = self.out_of_time or lane.out_of_time
