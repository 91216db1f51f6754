"""`least_loaded`: the lightest by vLLM's load of three healthy members: two drawn at random
and the one with the fewest of this process's calls in flight.

A member's load is what its last `/metrics` reading says (requests waiting, weighted, plus
requests running, plus its KV-cache use as a tie-break in 0..1), corrected by how this
process's own calls in flight there changed since that reading: calls started since count at
once, and calls that ended since stop counting at once. The reading is stale for everyone
else's calls only; this process's are known exactly. Drawing two members and taking the
lighter (Mitzenmacher's power of two choices) costs O(1) per call and avoids herding every
replica onto the one instance that looked lightest at the last scrape; the third, quietest
here, is what `least_busy` would pick and is also O(1), so a lone process does at least as
well as `least_busy` would while the readings say it is not loaded by others. When either drawn
member has no fresh reading, the call is ordered as `least_busy` would order it, and one
WARNING says so until readings are back.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator

from infrastructure.llm.fleet.rotation import RotationContext, _around, _LeastBusy
from infrastructure.llm.resilience.records import LoadRecord

logger = logging.getLogger(__name__)


def load_score(record: LoadRecord, waiting_weight: float, pending: int) -> float:
    """How loaded a reading says an instance is, corrected by `pending`: this process's calls
    in flight there now, less those it had when the reading was taken."""
    usage = record.kv_cache_usage or 0.0
    return waiting_weight * record.waiting + record.running + pending + usage


class LeastLoaded(_LeastBusy):
    """Power of two choices, plus the quietest member here, on `load_score`; `least_busy`
    while readings are missing."""

    def __init__(self, size: int, rng: random.Random, context: RotationContext) -> None:
        super().__init__(size)
        self._rng = rng
        self._clock = context.clock
        self._pool = context.pool
        self._ids = context.ids
        self._waiting_weight = context.waiting_weight
        self._loads: list[LoadRecord | None] = [None] * size
        self._own_at_reading = [0] * size  # this process's calls in flight at each reading
        self._falling_back = False

    def set_load(self, index: int, record: LoadRecord | None) -> None:
        """The latest reading of member `index` (None: none is fresh)."""
        self._check(index)
        with self._lock:
            old = self._loads[index]
            if record is not None and (old is None or record.serial != old.serial):
                self._own_at_reading[index] = self._counts[index]
            self._loads[index] = record

    def reading(self, index: int) -> LoadRecord | None:
        """The last reading handed in for member `index`, fresh or not."""
        self._check(index)
        return self._loads[index]

    def load(self, index: int) -> float | None:
        """Member `index`'s score now; None without a fresh reading."""
        self._check(index)
        record = self._loads[index]
        if record is None or record.fresh_until <= self._clock.now():
            return None
        own = self._counts[index]
        pending = own - self._own_at_reading[index]
        return max(float(own), load_score(record, self._waiting_weight, pending))

    def candidates(self, key: str | None = None) -> Iterator[int]:
        members = self._members
        size = len(members)
        if size < 2:
            return iter(members)
        first = self._rng.randrange(size)
        second = self._rng.randrange(size - 1)
        if second >= first:
            second += 1
        drawn = [members[first], members[second]]
        quietest = self._quietest_here()
        if quietest is not None and quietest not in drawn:
            drawn.append(quietest)
        loads = [self.load(member) for member in drawn]
        if None in loads:
            self._fall_back(drawn[loads.index(None)])
            return super().candidates(key)
        if self._falling_back:
            self._readings_back()
        ranked = [drawn[i] for i in sorted(range(len(drawn)), key=loads.__getitem__)]
        rest = (m for m in _around(members, first) if m not in ranked)
        return itertools.chain(ranked, rest)

    def _quietest_here(self) -> int | None:
        """The member with the fewest of this process's calls in flight (ties in turn): O(1)
        from `least_busy`'s buckets, a third, informed choice beside the two random ones."""
        with self._lock:
            if not self._buckets:
                return None
            lowest = self._buckets[self._min]
            quietest = next(iter(lowest))
            lowest.move_to_end(quietest)
            return quietest

    def _fall_back(self, missing: int) -> None:
        """Warn once that calls are ordered least-busy until readings are back."""
        if self._falling_back:
            return
        with self._lock:
            if self._falling_back:
                return
            self._falling_back = True
        logger.warning(
            "pool %r: no fresh /metrics reading for %s (and maybe others); calls go to "
            "the instance with the fewest calls in flight here (least_busy) until readings "
            "are back",
            self._pool,
            self._ids[missing],
        )

    def _readings_back(self) -> None:
        with self._lock:
            if not self._falling_back:
                return
            self._falling_back = False
        logger.info("pool %r: /metrics readings are back; calls go by load again", self._pool)
