"""A polling pool at run time: its members, the rotation that orders them, and their health.

Members are instances drawn from the pool's task groups. Each keeps the limits, timeouts and
circuit breaker of the echelon it came from, so a pool and a task group over the same
instances see the same breakers and share the same limits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from infrastructure.llm.clock import Clock
from infrastructure.llm.config import PollingPoolConfig
from infrastructure.llm.errors import CircuitOpenError
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.pool_health import PoolHealth
from infrastructure.llm.fleet.rotation import make_rotation
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.resilience.circuit_breaker import CircuitBreaker, CircuitState
from infrastructure.llm.resilience.limits import Permit
from infrastructure.llm.resilience.state import SharedState


@dataclass(frozen=True, eq=False)
class PoolMember:
    """One instance of a pool, with the echelon (`target`) and breaker it answers to."""

    index: int
    instance: Instance
    target: Target
    breaker: CircuitBreaker


class CountedPermit(Permit):
    """A limit slot that also ends the member's in-flight count (for `least_busy`) on release."""

    __slots__ = ("_finish", "_inner")

    def __init__(self, inner: Permit, finish: Callable[[], None]) -> None:
        super().__init__(None, "")
        self._inner = inner
        self._finish: Callable[[], None] | None = finish

    def release(self) -> None:
        finish = self._finish
        if finish is not None:
            self._finish = None
            self._inner.release()
            finish()


class PollingPool:
    """Picks a usable member in O(1): healthy, not cooling down, breaker closed, with room."""

    def __init__(
        self,
        config: PollingPoolConfig,
        members: list[PoolMember],
        state: SharedState,
        clock: Clock,
    ) -> None:
        self.config = config
        self.members = members
        self.rotation = make_rotation(
            config.rotation_strategy, [m.instance.weight for m in members]
        )
        self.health = PoolHealth(
            config.name,
            [m.instance for m in members],
            config,
            state,
            clock,
            on_change=self.rotation.set_healthy,
        )

    @property
    def name(self) -> str:
        return self.config.name

    def choose(
        self,
        tried: Collection[int],
        busy: Collection[str],
        now: float,
        *,
        prefer: int | None = None,
    ) -> tuple[PoolMember, Permit | None]:
        """The member for the next attempt, holding its breaker permission and a limit slot.

        Order: `prefer` (the member to retry on), then the rotation's healthy members not in
        `tried`, then the tried ones. When only members whose limits are full are left, returns
        the first of them with no permit: the caller waits for its slot, then calls `admit`.
        Raises CircuitOpenError when no member can take the call.
        """
        waiting: PoolMember | None = None
        for index in self._order(tried, prefer):
            member = self.members[index]
            instance = member.instance
            if instance.cooldown_until > now or (busy and instance.id in busy):
                continue
            permit = member.target.limiter.try_acquire()
            if permit is None:
                waiting = waiting or member
                continue
            if not member.breaker.try_acquire():
                permit.release()
                continue
            return member, self._counted(member, permit)
        if waiting is not None:
            return waiting, None
        raise CircuitOpenError(
            f"pool {self.name!r}: no instance can take a call now ({self._describe(now, busy)})"
        )

    def admit(self, member: PoolMember, permit: Permit) -> Permit:
        """Finish choosing a member whose limit slot the caller waited for."""
        if not member.breaker.try_acquire():
            permit.release()
            raise CircuitOpenError(
                f"pool {self.name!r}: {member.instance.id} opened its circuit while the call "
                "waited for a limit slot"
            )
        return self._counted(member, permit)

    def has_free(self, tried: Collection[int], busy: Collection[str], now: float) -> bool:
        """Whether a healthy member this call has not tried could take it right away."""
        for index in self.rotation.candidates():
            member = self.members[index]
            if (
                index not in tried
                and member.instance.cooldown_until <= now
                and member.instance.id not in busy
                and member.breaker.state is not CircuitState.OPEN
            ):
                return True
        return False

    def _order(self, tried: Collection[int], prefer: int | None) -> Iterator[int]:
        if prefer is not None:
            yield prefer
        if self.rotation.healthy_count:
            fresh: Iterator[int] = iter(self.rotation.candidates())
        else:  # health checks rule out everyone: trying anyway beats failing outright
            fresh = iter(range(len(self.members)))
        for index in fresh:
            if index not in tried and index != prefer:
                yield index
        for index in tried:
            if index != prefer:
                yield index

    def _counted(self, member: PoolMember, permit: Permit) -> Permit:
        index = member.index
        self.rotation.started(index)
        return CountedPermit(permit, lambda: self.rotation.finished(index))

    def _describe(self, now: float, busy: Collection[str]) -> str:
        """A summary of why members are unusable; never lists a thousand instances."""
        open_breakers = sum(1 for m in self.members if m.breaker.state is CircuitState.OPEN)
        cooling = sum(1 for m in self.members if m.instance.cooldown_until > now)
        return (
            f"{self.rotation.healthy_count}/{len(self.members)} healthy, "
            f"{open_breakers} with an open circuit, {cooling} cooling down, "
            f"{len(busy)} busy in this call"
        )

    def breaker_states(self) -> dict[str, dict[str, Any]]:
        return {m.instance.id: m.breaker.snapshot() for m in self.members}
