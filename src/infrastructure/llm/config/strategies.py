"""The strategy names a config may use, as enums: the routing compares members, not strings."""

from __future__ import annotations

from enum import Enum


class FallbackStrategy(str, Enum):
    """How a task group moves on when a target is spent."""

    ECHELON_DOWN = "echelon_down"
    TASK_GROUP_SWITCH = "task_group_switch"
    PROVIDER_FAILOVER = "provider_failover"


class PoolFallbackStrategy(str, Enum):
    """How a polling pool retries a failed call: on another instance, or on the same one."""

    INSTANCE_ROTATION = "instance_rotation"
    SIMPLE_RETRY = "simple_retry"


class RotationStrategy(str, Enum):
    """Which healthy member of a polling pool a call tries first."""

    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    LEAST_BUSY = "least_busy"
    WEIGHTED = "weighted"
    LEAST_LOADED = "least_loaded"
    """Two random choices, the lighter by the instances' vLLM `/metrics` load."""
    PREFIX_AFFINITY = "prefix_affinity"
    """Rendezvous hashing of the call's session or prompt prefix, with bounded loads."""

    @property
    def reads_calls_in_flight(self) -> bool:
        """Whether the order depends on each member's calls in flight here (then the rotation
        counts them under its lock; other rotations leave the counting lock-free)."""
        return self in (
            RotationStrategy.LEAST_BUSY,
            RotationStrategy.LEAST_LOADED,
            RotationStrategy.PREFIX_AFFINITY,
        )
