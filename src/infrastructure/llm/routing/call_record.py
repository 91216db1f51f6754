"""What happened during one routed call: attempts, retries, hops, hedges and who answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from infrastructure.llm.errors import describe_error
from infrastructure.llm.routing.deadline import Deadline


@dataclass
class CallRecord:
    """Collected while a call is routed; feeds stats, `response_metadata` and error messages.

    `busy` names the instances this call is using right now; hedge lanes share it so a
    hedge goes to a different instance than the attempt it races.
    """

    deadline: Deadline
    attempts: int = 0
    retries: int = 0
    fallbacks: int = 0
    hedges: int = 0
    instance_outcomes: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)

    def note_failure(self, where: str, exc: BaseException) -> None:
        """Remember a failed attempt as `where: ErrorType: message` for the final error."""
        self.failures.append(f"{where}: {describe_error(exc)}")

    def lane(self) -> CallRecord:
        """A record for one hedge lane: same deadline and busy set, its own counts."""
        return CallRecord(self.deadline, busy=self.busy)

    def absorb(self, lane: CallRecord) -> None:
        """Add a finished lane's counts to this record."""
        self.attempts += lane.attempts
        self.retries += lane.retries
        self.fallbacks += lane.fallbacks
        self.instance_outcomes.extend(lane.instance_outcomes)
        self.failures.extend(lane.failures)
