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
from infrastructure.llm.fleet.least_loaded import LeastLoaded
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.fleet.pool_health import PoolHealth
from infrastructure.llm.fleet.pool_load import PoolLoad
from infrastructure.llm.fleet.rotation import RotationContext, make_rotation
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
        context = RotationContext(
            config.name,
            [m.instance.id for m in members],
            clock,
            config.waiting_weight,
            config.load_factor,
        )
        rotation = make_rotation(
            config.rotation_strategy, [m.instance.weight for m in members], context=context
        )
        counts_calls = config.rotation_strategy.reads_calls_in_flight
        super().__init__(config.name, members, rotation, clock, counts_calls=counts_calls)
        self.config = config
        self.health = PoolHealth(
            config.name,
            [m.instance for m in self.members],
            config,
            state,
            clock,
            on_change=rotation.set_healthy,
        )
        self.load: PoolLoad | None = None
        """The `/metrics` scrapes of a `least_loaded` pool (None for other rotations)."""
        if isinstance(rotation, LeastLoaded):
            self.load = PoolLoad(
                config.name,
                [m.instance for m in self.members],
                config.metrics_interval,
                min(config.health_check_timeout, config.metrics_interval),
                state,
                clock,
                rotation.set_load,
            )

    def start_polling(self) -> None:
        """Start the background health checks, and the metrics scrapes of a least_loaded pool."""
        self.health.start()
        if self.load is not None:
            self.load.start()

    def stop_polling(self) -> None:
        """Stop what `start_polling` started and wait for its threads."""
        self.health.stop()
        if self.load is not None:
            self.load.stop()
