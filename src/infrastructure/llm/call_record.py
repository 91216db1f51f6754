"""What happened during one routed call: attempts, retries, hops and who answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from infrastructure.llm.deadline import Deadline
from infrastructure.llm.errors import describe_error


@dataclass
class CallRecord:
    """Collected while a call is routed; feeds stats, `response_metadata` and error messages."""

    deadline: Deadline
    attempts: int = 0
    retries: int = 0
    fallbacks: int = 0
    instance_outcomes: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def note_failure(self, where: str, exc: BaseException) -> None:
        """Remember a failed attempt as `where: ErrorType: message` for the final error."""
        self.failures.append(f"{where}: {describe_error(exc)}")
