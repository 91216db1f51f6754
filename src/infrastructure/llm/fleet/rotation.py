"""Instance-selection strategies: which member a call tries first, then next.

Members are the indexes 0..n-1. The rotation offers members that are healthy (by the pool's
health checks) and not benched (left out for a while because their breaker is open or they
cool down). Offering the first candidate costs O(1) whatever n is; a change of membership
rebuilds an immutable snapshot in O(n), so picks read membership without taking a lock.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.strategies import RotationStrategy

__all__ = ["Rotation", "RotationContext", "make_rotation"]

# How many least-busy candidates are gathered under the lock before the first one is yielded.
_HEAD = 3


class Rotation(Protocol):
    """Orders the healthy members of a pool and counts the calls in flight on each member."""

    def set_healthy(self, index: int, healthy: bool) -> None:
        """Mark `index` healthy or not; setting the current state again does nothing."""

    def set_benched(self, index: int, benched: bool) -> None:
        """Leave `index` out of the rotation (or bring it back), whatever its health."""

    def is_healthy(self, index: int) -> bool: ...

    @property
    def healthy_count(self) -> int:
        """How many members the rotation offers: healthy and not benched."""

    def unbenched(self) -> tuple[int, ...]:
        """The members not benched, healthy or not, in index order."""

    def candidates(self, key: str | None = None) -> Iterator[int]:
        """Lazily yield each healthy member at most once, most preferred first.

        `key` is the call's affinity key (see `affinity.py`); only `prefix_affinity` reads
        it. The first item costs O(1); no lock is held while the caller consumes the iterator.
        """

    def started(self, index: int) -> None:
        """A call began on `index`."""

    def finished(self, index: int) -> None:
        """A call on `index` ended (the count never goes below zero)."""

    def in_flight(self, index: int) -> int: ...


def _around(members: tuple[int, ...], start: int) -> Iterator[int]:
    """`members` once each, from position `start` around to the one before it.

    Built from C iterators only: taking the first costs no Python frame.
    """
    return map(members.__getitem__, itertools.chain(range(start, len(members)), range(start)))


class _Rotation:
    """Membership snapshot and in-flight counts shared by every strategy.

    Subclasses choose the order of `candidates()`; the hooks run under the lock.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._healthy = [True] * size
        self._benched = [False] * size
        self._offered = [True] * size  # healthy and not benched
        self._members: tuple[int, ...] = tuple(range(size))
        self._unbenched: tuple[int, ...] = self._members
        self._counts = [0] * size

    def _check(self, index: int) -> None:
        if not 0 <= index < self._size:
            raise IndexError(f"member {index} is not in 0..{self._size - 1}")

    def set_healthy(self, index: int, healthy: bool) -> None:
        self._check(index)
        with self._lock:
            self._healthy[index] = healthy
            self._reoffer(index)

    def set_benched(self, index: int, benched: bool) -> None:
        self._check(index)
        with self._lock:
            if self._benched[index] != benched:
                self._benched[index] = benched
                self._unbenched = tuple(i for i, out in enumerate(self._benched) if not out)
            self._reoffer(index)

    def _reoffer(self, index: int) -> None:
        """Rebuild the membership snapshot if `index` joined or left it (under the lock)."""
        offered = self._healthy[index] and not self._benched[index]
        if offered == self._offered[index]:
            return
        self._offered[index] = offered
        self._members = tuple(i for i, ok in enumerate(self._offered) if ok)
        self._membership_changed(index, offered)

    def is_healthy(self, index: int) -> bool:
        self._check(index)
        return self._healthy[index]

    @property
    def healthy_count(self) -> int:
        return len(self._members)

    def unbenched(self) -> tuple[int, ...]:
        return self._unbenched

    def started(self, index: int) -> None:
        self._check(index)
        with self._lock:
            count = self._counts[index]
            self._counts[index] = count + 1
            self._count_changed(index, count, count + 1)

    def finished(self, index: int) -> None:
        self._check(index)
        with self._lock:
            count = self._counts[index]
            if count == 0:
                return
            self._counts[index] = count - 1
            self._count_changed(index, count, count - 1)

    def in_flight(self, index: int) -> int:
        self._check(index)
        return self._counts[index]

    def _membership_changed(self, index: int, offered: bool) -> None:
        """Called after `index` joined or left `self._members`."""

    def _count_changed(self, index: int, old: int, new: int) -> None:
        """Called after the in-flight count of `index` moved from `old` to `new`."""


class _RoundRobin(_Rotation):
    """Successive `candidates()` start at successive healthy members, then go around."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._cursor = itertools.count()

    def candidates(self, key: str | None = None) -> Iterator[int]:
        members = self._members
        if not members:
            return iter(())
        return _around(members, next(self._cursor) % len(members))


class _Random(_Rotation):
    """Start at a uniformly random healthy member, then go around."""

    def __init__(self, size: int, rng: random.Random) -> None:
        super().__init__(size)
        self._rng = rng

    def candidates(self, key: str | None = None) -> Iterator[int]:
        members = self._members
        if not members:
            return iter(())
        return _around(members, self._rng.randrange(len(members)))


def _alias_table(weights: Sequence[float]) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Vose's alias method: draw slot `i` uniformly, keep it with `prob[i]`, else `alias[i]`."""
    size = len(weights)
    total = sum(weights)
    scaled = [w * size / total for w in weights]
    prob = [1.0] * size
    alias = list(range(size))
    small = [i for i, p in enumerate(scaled) if p < 1.0]
    large = [i for i, p in enumerate(scaled) if p >= 1.0]
    while small and large:
        less, more = small.pop(), large.pop()
        prob[less] = scaled[less]
        alias[less] = more
        scaled[more] += scaled[less] - 1.0
        (small if scaled[more] < 1.0 else large).append(more)
    return tuple(prob), tuple(alias)


class _Weighted(_Rotation):
    """Start at a healthy member drawn in proportion to its weight, then go around."""

    def __init__(self, weights: Sequence[float], rng: random.Random) -> None:
        super().__init__(len(weights))
        self._weights = tuple(weights)
        self._rng = rng
        self._table = self._build_table()

    def _build_table(self) -> tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...]]:
        members = self._members
        prob, alias = _alias_table([self._weights[i] for i in members])
        return members, prob, alias

    def _membership_changed(self, index: int, offered: bool) -> None:
        self._table = self._build_table()

    def candidates(self, key: str | None = None) -> Iterator[int]:
        members, prob, alias = self._table
        if not members:
            return iter(())
        slot = self._rng.randrange(len(members))
        return _around(members, slot if self._rng.random() < prob[slot] else alias[slot])


class _LeastBusy(_Rotation):
    """Fewest calls in flight first, ties taken in turn, then the rest by ascending count.

    Healthy members sit in `in-flight count -> OrderedDict` buckets with the lowest non-empty
    count tracked, so a start or finish moves one member by one bucket in O(1).
    """

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._buckets: dict[int, OrderedDict[int, None]] = {}
        self._min = 0
        if size:
            self._buckets[0] = OrderedDict.fromkeys(range(size))

    def _add(self, index: int, count: int) -> None:
        if not self._buckets or count < self._min:
            self._min = count
        self._buckets.setdefault(count, OrderedDict())[index] = None

    def _remove(self, index: int, count: int) -> bool:
        """Take `index` out of its bucket; True if that emptied the bucket."""
        bucket = self._buckets[count]
        del bucket[index]
        if bucket:
            return False
        del self._buckets[count]
        return True

    def _membership_changed(self, index: int, offered: bool) -> None:
        count = self._counts[index]
        if offered:
            self._add(index, count)
        elif self._remove(index, count) and count == self._min and self._buckets:
            self._min = min(self._buckets)

    def _count_changed(self, index: int, old: int, new: int) -> None:
        if not self._offered[index]:
            return
        emptied = self._remove(index, old)
        self._add(index, new)
        if emptied and old == self._min:
            # Only a start empties the lowest bucket: the member moved up to the next count.
            self._min = new

    def candidates(self, key: str | None = None) -> Iterator[int]:
        with self._lock:
            if not self._buckets:
                return
            lowest = self._buckets[self._min]
            first = next(iter(lowest))
            lowest.move_to_end(first)
            head = [first, *itertools.islice(lowest, min(len(lowest), _HEAD) - 1)]
            total = len(self._members)
        yield from head
        if len(head) == total:
            return
        seen = set(head)
        with self._lock:
            rest = [
                index
                for count in sorted(self._buckets)
                for index in self._buckets[count]
                if index not in seen
            ]
        yield from rest


@dataclass(frozen=True)
class RotationContext:
    """What the load-aware rotations need besides weights: the pool's name (for logs), its
    members' instance ids (hashed by `prefix_affinity`), a clock (`least_loaded` ages its
    readings by it) and the pool's tuning."""

    pool: str
    ids: Sequence[str]
    clock: Clock
    waiting_weight: float
    load_factor: float


def make_rotation(
    strategy: RotationStrategy | str,
    weights: Sequence[float],
    *,
    rng: random.Random | None = None,
    context: RotationContext | None = None,
) -> Rotation:
    """Build the `strategy` rotation over `len(weights)` members, all healthy at first.

    `least_loaded` and `prefix_affinity` need `context`.
    """
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"rotation weights must be finite and > 0, got {list(weights)}")
    try:
        strategy = RotationStrategy(strategy)
    except ValueError:
        known = [s.value for s in RotationStrategy]
        raise ValueError(
            f"unknown rotation strategy {strategy!r}; expected one of {known}"
        ) from None
    size = len(weights)
    if strategy is RotationStrategy.ROUND_ROBIN:
        return _RoundRobin(size)
    if strategy is RotationStrategy.RANDOM:
        return _Random(size, rng or random.Random())
    if strategy is RotationStrategy.LEAST_BUSY:
        return _LeastBusy(size)
    if strategy is RotationStrategy.WEIGHTED:
        return _Weighted(weights, rng or random.Random())
    if context is None or len(context.ids) != size:
        raise ValueError(f"rotation {strategy.value!r} needs the pool's instance ids and clock")
    # Imported here: these rotations build on the classes above.
    from infrastructure.llm.fleet.least_loaded import LeastLoaded
    from infrastructure.llm.fleet.prefix_affinity import PrefixAffinity

    if strategy is RotationStrategy.LEAST_LOADED:
        return LeastLoaded(size, rng or random.Random(), context)
    return PrefixAffinity(context)
