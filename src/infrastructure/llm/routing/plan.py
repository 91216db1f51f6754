"""A fallback plan: the candidate sets one call may try, in order, and how it tries each."""

from __future__ import annotations

from dataclasses import dataclass

from infrastructure.llm.config.strategies import FallbackStrategy, PoolFallbackStrategy
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.fleet.candidates import CandidateSet
from infrastructure.llm.fleet.pool import PollingPool
from infrastructure.llm.routing.call_record import CallRecord


@dataclass(frozen=True, slots=True)
class Stage:
    """One candidate set of a plan: at most `max_attempts` attempts on it; retries go to an
    untried member when one is free, or (`sticky`) stay on the member that failed."""

    candidates: CandidateSet
    max_attempts: int
    sticky: bool = False


@dataclass(frozen=True)
class FallbackPlan:
    """The ordered stages one call may try, the pause between them and the call's deadline.

    `origin` names what was asked for in errors (`g.echelon1`, `pool 'p'`), `unit` what the
    stages offer (`target`, `instance`).
    """

    origin: str
    strategy: FallbackStrategy | PoolFallbackStrategy
    stages: tuple[Stage, ...]
    retry_delay: float
    deadline: float
    unit: str = "target"

    @classmethod
    def for_pool(
        cls,
        pool: PollingPool,
        strategy: PoolFallbackStrategy,
        max_attempts: int,
        deadline: float,
    ) -> FallbackPlan:
        """A pool's plan: one stage, rotating or sticking as `strategy` says."""
        sticky = strategy is PoolFallbackStrategy.SIMPLE_RETRY
        stage = Stage(pool, max_attempts, sticky)
        return cls(f"pool {pool.name!r}", strategy, (stage,), 0.0, deadline, "instance")

    @property
    def targets(self) -> tuple[CandidateSet, ...]:
        """The candidate sets, in the order they are tried."""
        return tuple(stage.candidates for stage in self.stages)

    def exhausted(self, call: CallRecord, last: BaseException | None) -> AllTargetsFailedError:
        """The error of a call that no stage answered, listing every failure."""
        count = call.attempts
        if count:
            why = f"no {self.unit} answered in {count} attempt{'' if count == 1 else 's'}"
        else:
            why = f"no {self.unit} could take the call"
        if self.unit == "target":
            why += " (targets " + ", ".join(s.candidates.name for s in self.stages) + ")"
        if call.deadline.remaining() <= 0.0 or call.out_of_time:
            why += f"; the call's deadline of {call.deadline.seconds:g}s left no time for more"
        detail = "; ".join(call.failures) or "no attempt could start"
        return AllTargetsFailedError(
            f"{self.origin}: {why}: {detail}",
            attempts=call.failures,
            last_error=last,
        )
