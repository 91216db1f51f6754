"""`prefix_affinity`: a call's affinity key picks its instance by rendezvous hashing, so
calls with the same key meet the same KV cache; bounded loads keep a hot key from
swamping that instance.

Each member scores every key with a keyed hash of its instance id; a key's order is the
members by descending score (highest random weight). Adding or removing a member moves only
the keys it wins or loses, about 1/N of them. A member at its load bound (calls in flight
here would exceed ceil(load_factor x average) + 1 with this call counted, as in consistent
hashing with bounded loads), unhealthy or out (open breaker, cool-down) is passed over for the next
one in the key's order; members over the bound still come last, for retries.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Iterator, Sequence

from infrastructure.llm.fleet.rotation import RotationContext, _Rotation

# Keys whose hash order is kept: a repeated key is placed in O(1).
_CACHED_ORDERS = 4096


def hash_order(key: str, member_keys: Sequence[bytes]) -> tuple[int, ...]:
    """Member positions by descending rendezvous score of `key`."""
    data = key.encode()
    scores = [hashlib.blake2b(data, digest_size=8, key=member).digest() for member in member_keys]
    return tuple(sorted(range(len(scores)), key=scores.__getitem__, reverse=True))


def member_key(instance_id: str) -> bytes:
    """The hash key of one member, derived from its instance id alone: a member scores keys
    the same whatever else is in the pool."""
    return hashlib.blake2b(instance_id.encode(), digest_size=16).digest()


class PrefixAffinity(_Rotation):
    """Members in the key's rendezvous order: healthy ones under the load bound first."""

    def __init__(self, context: RotationContext) -> None:
        super().__init__(len(context.ids))
        self._member_keys = tuple(member_key(i) for i in context.ids)
        self._load_factor = context.load_factor
        self._total = 0  # calls in flight on all members
        self._unkeyed = itertools.count()
        self._order = functools.lru_cache(maxsize=_CACHED_ORDERS)(self._rank)

    def _rank(self, key: str) -> tuple[int, ...]:
        return hash_order(key, self._member_keys)

    def _count_changed(self, index: int, old: int, new: int) -> None:
        self._total += new - old

    def bound(self) -> int:
        """The most calls in flight a member may have once it takes one more: the load factor
        times the average with that call counted, rounded up, plus one (an idle pool's
        average is below one call, and a session's next call should still stay)."""
        offered = len(self._members)
        return math.ceil(self._load_factor * (self._total + 1) / max(offered, 1)) + 1

    def candidates(self, key: str | None = None) -> Iterator[int]:
        if key is None:  # a call with no key: spread such calls over the members
            key = f"#{next(self._unkeyed)}"
        return self._walk(self._order(key))

    def _walk(self, order: tuple[int, ...]) -> Iterator[int]:
        offered, counts = self._offered, self._counts
        bound = self.bound()
        over: list[int] = []
        for index in order:
            if not offered[index]:
                continue
            if counts[index] >= bound:
                over.append(index)
                continue
            yield index
        yield from over
