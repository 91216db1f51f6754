"""`least_loaded`: two random choices between healthy members, the lighter by vLLM's load.

A member's load is what its last `/metrics` reading says (requests waiting, weighted, plus
requests running, plus its KV-cache use as a tie-break in 0..1) and the calls this process
started on it since that reading, while they are still in flight: the reading cannot count
them yet. Drawing two members and taking the lighter (Mitzenmacher's power of two choices)
costs O(1) per call and avoids herding every replica onto the one instance that looked
lightest at the last scrape. When either drawn member has no fresh reading, the call is
ordered as `least_busy` would order it, and one WARNING says so until readings are back.
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
    """How loaded a reading says an instance is, with `pending` calls it cannot count yet."""
    usage = record.kv_cache_usage or 0.0
    return waiting_weight * record.waiting + record.running + pending + usage


class LeastLoaded(_LeastBusy):
    """Power of two choices on `load_score`; `least_busy` while readings are missing."""

    def __init__(self, size: int, rng: random.Random, context: RotationContext) -> None:
        super().__init__(size)
        self._rng = rng
        self._clock = context.clock
        self._pool = context.pool
        self._ids = context.ids
        self._waiting_weight = context.waiting_weight
        self._loads: list[LoadRecord | None] = [None] * size
        self._since = [0] * size  # calls started on each member since its reading
        self._falling_back = False

    def set_load(self, index: int, record: LoadRecord | None) -> None:
        """The latest reading of member `index` (None: none is fresh)."""
        self._check(index)
        with self._lock:
            old = self._loads[index]
            if record is None or old is None or record.serial != old.serial:
                self._since[index] = 0
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
        pending = min(self._since[index], self._counts[index])
        return load_score(record, self._waiting_weight, pending)

    def _count_changed(self, index: int, old: int, new: int) -> None:
        super()._count_changed(index, old, new)
        if new > old:
            self._since[index] += 1

    def candidates(self, key: str | None = None) -> Iterator[int]:
        members = self._members
        size = len(members)
        if size < 2:
            return iter(members)
        first = self._rng.randrange(size)
        second = self._rng.randrange(size - 1)
        if second >= first:
            second += 1
        a, b = members[first], members[second]
        load_a, load_b = self.load(a), self.load(b)
        if load_a is None or load_b is None:
            self._fall_back(a if load_a is None else b)
            return super().candidates(key)
        if self._falling_back:
            self._readings_back()
        if load_b < load_a:
            a, b = b, a
        rest = (m for m in _around(members, first) if m != a and m != b)
        return itertools.chain((a, b), rest)

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
