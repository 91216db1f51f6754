"""Per-echelon limits: calls in flight (`concurrency_limit`) and calls a minute (`rpm_limit`).

Counts live in a `SharedState`, so limits hold across replicas. The state checks both in the
same step that admits a call (`SharedState.admit`): an admission counts against the rpm limit
only together with a slot, and no slot is taken when the rpm limit has no room, so waiting
callers neither use up the rate nor hog slots. A caller that finds no room waits as
`CapacityWait` says.
"""

from __future__ import annotations

from dataclasses import dataclass

from infrastructure.llm.errors import NoCapacityError

RPM_WINDOW = 60.0
"""Seconds of the sliding window in which `rpm_limit` counts admissions."""

_FIRST_POLL = 0.001
_MAX_POLL = 0.02


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one echelon, counted under `key`; either may be None (no limit).

    The rpm limit is a sliding window: at most `rpm_limit` admissions in any trailing 60
    seconds, each counted from the moment it was admitted. Up to `rpm_limit` calls may go at
    once after an idle minute; then the next is allowed when the oldest leaves the window.
    """

    key: str
    concurrency_limit: int | None = None
    rpm_limit: int | None = None

    @property
    def name(self) -> str:
        """What the limits belong to, for messages: the key without its namespace."""
        return self.key.partition(":")[2] or self.key

    def __post_init__(self) -> None:
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            raise ValueError(
                f"{self.key}: concurrency limit must be at least 1, got {self.concurrency_limit}"
            )
        if self.rpm_limit is not None and self.rpm_limit < 1:
            raise ValueError(f"{self.key}: rpm limit must be at least 1, got {self.rpm_limit}")


class CapacityWait:
    """How one caller waits for room under `limits` until `until` (a clock time).

    It polls with short sleeps that grow from 1 ms to 20 ms, since releases made by other
    processes cannot signal it, or sleeps exactly until the rpm window has room again (when
    its oldest admission leaves it). It never sleeps past `until`, and gives up at once when
    the window has no room before then. Waiters are not served in arrival order.
    """

    __slots__ = ("_limits", "_poll", "_started", "_until")

    def __init__(self, limits: Limits, now: float, until: float) -> None:
        self._limits = limits
        self._started = now
        self._until = until
        self._poll = _FIRST_POLL

    def pause(self, now: float, rate_wait: float) -> float:
        """Seconds to sleep before trying again; `rate_wait` > 0 when the rpm limit is in
        the way: the seconds until its window has room.

        Raises NoCapacityError when the caller may not wait that long.
        """
        left = self._until - now
        limits = self._limits
        if rate_wait > 0.0:
            if rate_wait > left:
                raise NoCapacityError(
                    f"{limits.name}: rpm limit {limits.rpm_limit} reached; the next call is "
                    f"allowed in {rate_wait:.2f}s, later than this attempt may wait "
                    f"({max(left, 0.0):.2f}s)"
                )
            return rate_wait
        if left <= 0.0:
            raise NoCapacityError(
                f"{limits.name}: concurrency limit {limits.concurrency_limit} reached and no "
                f"slot came free in the {now - self._started:.2f}s this attempt could wait"
            )
        pause = min(self._poll, left)
        self._poll = min(self._poll * 2, _MAX_POLL)
        return pause
