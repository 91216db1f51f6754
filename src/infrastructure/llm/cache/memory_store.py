"""`MemoryCacheStore`: answers in this process, least recently used first out, each expiring
after its time to live on the injected clock."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from infrastructure.llm.cache.store import Neighbour
from infrastructure.llm.cache.vector_index import VectorIndex
from infrastructure.llm.clock import Clock


class MemoryCacheStore:
    """At most `max_entries` answers; the vector index is made when the first vector comes."""

    where = "memory"

    def __init__(self, max_entries: int, clock: Clock) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._index: VectorIndex | None = None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            expires, data = found
            if expires <= self._clock.now():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return data

    def put(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None:
        with self._lock:
            self._entries[key] = (self._clock.now() + ttl, data)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._drop(next(iter(self._entries)))
        if vector is not None:
            if self._index is None:
                self._index = VectorIndex(self._max_entries)
            self._index.add(context, key, vector)

    def delete(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def nearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]:
        if self._index is None:
            return []
        return self._index.nearest(context, vector, threshold, limit)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aput(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None:
        self.put(key, data, ttl, context, vector)

    async def adelete(self, key: str) -> None:
        self.delete(key)

    async def anearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]:
        return self.nearest(context, vector, threshold, limit)

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        if self._index is not None:
            self._index.clear()
        return count

    def _drop(self, key: str) -> None:
        if self._entries.pop(key, None) is not None and self._index is not None:
            self._index.remove(key)
