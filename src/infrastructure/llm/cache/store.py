"""Where cached answers live, behind one small interface: in this process or in Redis.

A store keeps encoded answers by exact key, each with a time to live, and for semantic
lookups a vector per entry, searched within its context. A networked store never raises on
the call's path: trouble reads as a miss (and is logged once by the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Neighbour = tuple[str, float]
"""An entry's exact key and its cosine similarity to the query."""


class CacheStore(Protocol):
    """Encoded answers by key, with their vectors for semantic lookups."""

    @property
    def where(self) -> str:
        """`memory`, or the store's public address (no password)."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def put(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None:
        """Keep `data` under `key` for `ttl` seconds; with `vector`, findable in `context`."""
        ...

    def delete(self, key: str) -> None: ...

    def nearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]:
        """Up to `limit` entries of `context` at least `threshold` similar, best first."""
        ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aput(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None: ...

    async def adelete(self, key: str) -> None: ...

    async def anearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]: ...

    def count(self) -> int:
        """Entries held now."""
        ...

    def clear(self) -> int:
        """Drop every entry; return how many there were."""
        ...
