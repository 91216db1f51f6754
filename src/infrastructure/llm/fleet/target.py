"""A target: one echelon of one task group, with its instances, breakers and limits."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from infrastructure.llm.config.schema import EchelonConfig
from infrastructure.llm.errors import CircuitOpenError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker, CircuitState
from infrastructure.llm.resilience.limits import EchelonLimiter


@dataclass(eq=False)
class Target:
    """Where a call can be sent: `group.echelonN`. Picks instances round-robin among usable ones."""

    group: str
    echelon: int
    config: EchelonConfig
    instances: list[Instance]
    breakers: list[CircuitBreaker]
    limiter: EchelonLimiter
    call_params: dict[str, Any]
    provider: str | None = None
    _cursor: itertools.count = field(default_factory=itertools.count, repr=False)

    @property
    def name(self) -> str:
        base = f"{self.group}.echelon{self.echelon}"
        return f"{base}@{self.provider}" if self.provider else base

    def split_by_provider(self) -> list[Target]:
        """One target per provider, in order of first appearance, sharing limits and breakers."""
        providers = list(dict.fromkeys(inst.provider for inst in self.instances))
        return [
            replace(
                self,
                instances=[i for i in self.instances if i.provider == provider],
                breakers=[
                    b
                    for i, b in zip(self.instances, self.breakers, strict=True)
                    if i.provider == provider
                ],
                provider=provider,
                _cursor=itertools.count(),
            )
            for provider in providers
        ]

    @property
    def first_chunk_timeout(self) -> float:
        return self.config.first_chunk_timeout or self.config.timeout

    def pick(self, tried: set[int], now: float, busy: Collection[str] = ()) -> int:
        """Index of the next instance to use, preferring ones this call has not tried yet.

        Skips instances in `busy` (used right now by another lane of the same call).
        Reserves the breaker's permission for the chosen instance (a probe slot when
        half-open). Raises CircuitOpenError when every instance is open, cooling down or busy.
        """
        count = len(self.instances)
        start = next(self._cursor) % count
        retry_candidates: list[int] = []
        for step in range(count):
            index = (start + step) % count
            instance = self.instances[index]
            if instance.cooldown_until > now or (busy and instance.id in busy):
                continue
            if index in tried:
                retry_candidates.append(index)
            elif self.breakers[index].try_acquire():
                return index
        for index in retry_candidates:
            if self.breakers[index].try_acquire():
                return index
        states = ", ".join(
            f"{inst.id}={breaker.state.value}"
            + (" (cooling down)" if inst.cooldown_until > now else "")
            + (" (busy in this call)" if inst.id in busy else "")
            for inst, breaker in zip(self.instances, self.breakers, strict=True)
        )
        raise CircuitOpenError(f"{self.name}: no instance can take a call now ({states})")

    def has_untried(self, tried: set[int], now: float, busy: Collection[str] = ()) -> bool:
        """Whether some instance not yet tried by this call could take it right away."""
        return any(
            index not in tried
            and inst.cooldown_until <= now
            and inst.id not in busy
            and self.breakers[index].state is not CircuitState.OPEN
            for index, inst in enumerate(self.instances)
        )

    def breaker_states(self) -> dict[str, dict[str, Any]]:
        return {
            inst.id: breaker.snapshot()
            for inst, breaker in zip(self.instances, self.breakers, strict=True)
        }
