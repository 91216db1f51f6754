"""The cache's decisions, without I/O: how a lookup proceeds and what a miss stores.

`look_up` is a generator, as the routing engine's are: it yields what to do next (read an
entry, drop one, embed a text, find neighbours) and receives the outcome; `cache_driver.py`
carries the steps out, in the caller's thread or on the event loop. An entry that does not
decode is dropped and the lookup goes on; a failed embedding (None) leaves the exact lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.codec import CorruptEntry, decode
from infrastructure.llm.cache.request_key import RequestKey

logger = logging.getLogger(__name__)


class HitKind(str, Enum):
    """How a cached answer was found."""

    EXACT = "exact"
    SEMANTIC = "semantic"


@dataclass(frozen=True)
class Read:
    """Read the entry under `key` (None back when there is none)."""

    key: str


@dataclass(frozen=True)
class Drop:
    """Delete the entry under `key` (expired, or undecodable)."""

    key: str


@dataclass(frozen=True)
class Embed:
    """Embed `text` (a vector back, or None when the embedding failed)."""

    text: str


@dataclass(frozen=True)
class FindNearest:
    """Entries of `context` at least `threshold` similar to `vector`, at most `limit`."""

    context: str
    vector: Sequence[float]
    threshold: float
    limit: int


Step = Read | Drop | Embed | FindNearest


@dataclass(frozen=True)
class SemanticSearch:
    """How semantic lookups search: at least `threshold` similar, among `limit` nearest."""

    threshold: float
    limit: int


@dataclass(frozen=True)
class Hit:
    answer: CachedAnswer
    kind: HitKind
    similarity: float | None = None


@dataclass(frozen=True)
class Miss:
    """No answer; `vector` is the request's embedding, kept so storing need not embed again."""

    key: RequestKey
    vector: Sequence[float] | None = None


def look_up(key: RequestKey, search: SemanticSearch | None) -> Generator[Step, Any, Hit | Miss]:
    """Exact first; then, when `search` is set and the request has text, the nearest."""
    answer = yield from _read(key.exact)
    if answer is not None:
        return Hit(answer, HitKind.EXACT)
    if search is None or key.text is None:
        return Miss(key)
    vector = yield Embed(key.text)
    if vector is None:
        return Miss(key)
    nearest = yield FindNearest(key.context, vector, search.threshold, search.limit)
    for candidate, similarity in nearest:
        answer = yield from _read(candidate, forget_missing=True)
        if answer is not None:
            return Hit(answer, HitKind.SEMANTIC, similarity)
    return Miss(key, vector)


def _read(key: str, forget_missing: bool = False) -> Generator[Step, Any, CachedAnswer | None]:
    """The answer under `key`: undecodable ones are dropped, and so are missing ones when
    `forget_missing` (a neighbour whose entry expired leaves its vector behind)."""
    data = yield Read(key)
    if data is None:
        if forget_missing:
            yield Drop(key)
        return None
    try:
        return decode(data)
    except CorruptEntry as exc:
        logger.warning("cache entry %s… dropped: %s", key[:12], exc)
        yield Drop(key)
        return None
