"""The per-call deadline that bounds retries and hops so they never multiply the wait."""

from __future__ import annotations

from infrastructure.llm.clock import Clock
from infrastructure.llm.errors import DeadlineExceededError


class Deadline:
    """A point in time on `clock` after which a call must stop trying."""

    __slots__ = ("at", "clock", "seconds")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.at = clock.now() + seconds

    def remaining(self) -> float:
        return self.at - self.clock.now()

    def cap(self, timeout: float) -> float:
        """The part of `timeout` that fits before the deadline; raises when nothing is left."""
        left = self.at - self.clock.now()
        if left <= 0:
            raise DeadlineExceededError(f"the call's deadline of {self.seconds:g}s has passed")
        return timeout if timeout < left else left
