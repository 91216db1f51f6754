"""A candidate set: the members a call may go to, offered in the order of a rotation.

Task-group targets and polling pools are both candidate sets; the routing engine asks one
for an order of members, tells it when a call starts and ends on one, and benches a member
the state refused for a known time (an open breaker, a cool-down), so that the next calls do
not look at it again until then: a pick stays O(1) however many members are out. It also
counts the calls in flight on each member, for the metrics.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from infrastructure.llm.clock import Clock
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.fleet.rotation import Rotation


class CandidateSet:
    """Members in rotation order: the member to retry on, the untried ones, then the tried."""

    def __init__(
        self,
        name: str,
        members: Sequence[Member],
        rotation: Rotation,
        clock: Clock,
        *,
        counts_calls: bool,
        spill_over: bool = False,
    ) -> None:
        self.name = name
        self.members = list(members)
        self.rotation = rotation
        self.spill_over = spill_over
        """Whether a call finding every limit full leaves at once instead of waiting."""
        self._counts_calls = counts_calls
        """Whether the rotation counts the calls in flight (it orders by them)."""
        # Otherwise one entry per call in flight on each member: a deque's append and pop
        # are atomic, so counting costs no lock on the hot path.
        self._running: list[deque[None]] = [] if counts_calls else [deque() for _ in self.members]
        self._clock = clock
        self._benched: list[tuple[float, int]] = []  # heap of (back at, member index)
        self._back_at: dict[int, float] = {}  # member index -> when it comes back, latest
        self._bench_lock = threading.Lock()

    def order(
        self, tried: Collection[Member], prefer: Member | None, key: str | None = None
    ) -> Iterator[Member]:
        """Candidates, lazily and each once: `prefer`, then the rotation's healthy members not
        in `tried` (placed by the call's affinity `key` when the rotation reads one), then the
        tried ones. The first costs O(1).

        When health checks rule every member out, all are offered: trying beats failing.
        """
        members = self.members
        rotation = self.rotation
        benched = self._benched
        if benched and benched[0][0] <= self._clock.now():
            self._unbench()
        if rotation.healthy_count:
            fresh: Iterator[int] = rotation.candidates(key)
        else:  # health checks rule out every member not benched: trying beats failing
            fresh = iter(rotation.unbenched())
        offered = map(members.__getitem__, fresh)
        if prefer is None and not tried:
            return offered  # a call's first pick: C iterators only
        return _retry_order(offered, tried, prefer)

    def bench(self, member: Member, seconds: float) -> None:
        """Leave `member` out of the rotation for `seconds`."""
        back_at = self._clock.now() + seconds
        index = member.index
        with self._bench_lock:
            if back_at <= self._back_at.get(index, 0.0):
                return
            self._back_at[index] = back_at
            heapq.heappush(self._benched, (back_at, index))
            self.rotation.set_benched(index, True)

    def _unbench(self) -> None:
        """Bring back the members whose time on the bench is over."""
        now = self._clock.now()
        with self._bench_lock:
            benched = self._benched
            while benched and benched[0][0] <= now:
                back_at, index = heapq.heappop(benched)
                # Only the member's latest bench counts: an earlier entry, left in the heap
                # when it was benched again for longer, is stale.
                if self._back_at.get(index) == back_at:
                    del self._back_at[index]
                    self.rotation.set_benched(index, False)

    def benched(self) -> tuple[int, float]:
        """How many members are on the bench, and in how many seconds the first comes back."""
        now = self._clock.now()
        backs = [back_at for back_at in self._back_at.values() if back_at > now]
        return len(backs), (min(backs) - now if backs else 0.0)

    def started(self, member: Member) -> None:
        """A call was admitted to `member`."""
        if self._counts_calls:
            self.rotation.started(member.index)
        else:
            self._running[member.index].append(None)

    def finished(self, member: Member) -> None:
        """A call on `member` gave its admission back."""
        if self._counts_calls:
            self.rotation.finished(member.index)
        else:
            running = self._running[member.index]
            if running:
                running.pop()

    def in_flight(self) -> dict[str, int]:
        """Calls admitted to each member and not given back yet, by instance id."""
        if self._counts_calls:
            count = self.rotation.in_flight
            return {m.instance.id: count(m.index) for m in self.members}
        return {m.instance.id: len(self._running[m.index]) for m in self.members}

    def target_name(self, member: Member) -> str:
        """The target to name in routing metadata for a call `member` served."""
        return member.echelon.name

    @property
    def instances(self) -> list[Instance]:
        return [member.instance for member in self.members]

    def breaker_states(self) -> dict[str, dict[str, Any]]:
        return {m.instance.id: m.breaker.snapshot() for m in self.members}


def _retry_order(
    offered: Iterator[Member], tried: Collection[Member], prefer: Member | None
) -> Iterator[Member]:
    """`CandidateSet.order` once a call has tried members or wants one again."""
    if prefer is not None:
        yield prefer
    for member in offered:
        if member is not prefer and member not in tried:
            yield member
    for member in tried:
        if member is not prefer:
            yield member
