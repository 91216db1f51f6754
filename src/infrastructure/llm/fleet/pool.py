"""A polling pool at run time: its members, the rotation that orders them, and their health.

Members are instances drawn from the pool's task groups. Each keeps the limits, timeouts and
circuit breaker of the echelon it came from, so a pool and a task group over the same
instances see the same breakers and share the same limits.
"""

from __future__ import annotations

from collections.abc import Sequence

from infrastructure.llm.clock import Clock
from infrastructure.llm.config import PollingPoolConfig
from infrastructure.llm.fleet.candidates import CandidateSet
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.fleet.pool_health import PoolHealth
from infrastructure.llm.fleet.rotation import make_rotation
from infrastructure.llm.resilience.state import SharedState


class PollingPool(CandidateSet):
    """Offers healthy members in the order of the pool's rotation strategy, in O(1)."""

    def __init__(
        self,
        config: PollingPoolConfig,
        members: Sequence[Member],
        state: SharedState,
        clock: Clock,
    ) -> None:
        rotation = make_rotation(config.rotation_strategy, [m.instance.weight for m in members])
        super().__init__(config.name, members, rotation, clock, counts_calls=True)
        self.config = config
        self.health = PoolHealth(
            config.name,
            [m.instance for m in self.members],
            config,
            state,
            clock,
            on_change=rotation.set_healthy,
        )
