"""An instance as a candidate for calls: the echelon whose rules it follows, and its gate."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from infrastructure.llm.config.schema import EchelonConfig
from infrastructure.llm.config.targets import FallbackTarget
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.resilience.admission import Gate
from infrastructure.llm.resilience.backoff import Backoff
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker
from infrastructure.llm.resilience.limits import Limits


@dataclass(frozen=True, eq=False)
class Echelon:
    """One echelon of one task group: the timeouts, call params and limits of its calls."""

    group: str
    number: int
    config: EchelonConfig
    call_params: dict[str, Any]
    limits: Limits | None

    @cached_property
    def name(self) -> str:
        """`group.echelonN`, built once: pools put it in every answer's metadata."""
        return str(FallbackTarget(self.group, self.number))

    @cached_property
    def backoff(self) -> Backoff:
        """The wait before a retry that stays on this echelon's instances."""
        return Backoff(self.config.backoff)

    def timeout(self, streaming: bool) -> float:
        """Seconds one attempt may take; for a stream, seconds to its first chunk."""
        config = self.config
        if streaming and config.first_chunk_timeout is not None:
            return config.first_chunk_timeout
        return config.timeout


@dataclass(frozen=True, eq=False, slots=True)
class Member:
    """One instance in one candidate set (a target or a pool), at position `index`.

    Members of different sets may share an instance and its gate: a pool and a task group
    over the same instances then see the same breakers, cool-downs and limits.
    """

    index: int
    instance: Instance
    echelon: Echelon
    gate: Gate
    breaker: CircuitBreaker

    def moved_to(self, index: int) -> Member:
        """The same candidate at another position, for another set."""
        return Member(index, self.instance, self.echelon, self.gate, self.breaker)
