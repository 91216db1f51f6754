"""The cache's decisions, without I/O: how a lookup proceeds and what a miss stores.

`look_up` and `neighbours` are generators, as the routing engine's are: each yields what to do
next (read an entry, drop one, embed a text, find neighbours) and receives the outcome;
`ResponseCache` carries the steps out, in the caller's thread or on the event loop. An entry
that does not decode is dropped and the lookup goes on; a failed embedding (None) leaves the
exact lookup.
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
from infrastructure.llm.cache.store import Neighbour

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
class NearAnswer:
    """A cached question, its answer's text, and how similar the question is to the query."""

    question: str
    answer: str
    similarity: float


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
    if search is None:
        return Miss(key)
    vector, nearest = yield from _nearest(key, search)
    if vector is None:
        return Miss(key)
    for candidate, similarity in nearest:
        answer = yield from _read(candidate, forget_missing=True)
        if answer is not None:
            return Hit(answer, HitKind.SEMANTIC, similarity)
    return Miss(key, vector)


def neighbours(key: RequestKey, search: SemanticSearch) -> Generator[Step, Any, list[NearAnswer]]:
    """The cached answers of requests near `key`'s that kept their question, most similar
    first. Stores nothing; only an entry that does not decode is dropped, as in `look_up`."""
    _, nearest = yield from _nearest(key, search)
    found: list[NearAnswer] = []
    for candidate, similarity in nearest:
        answer = yield from _read(candidate)
        if answer is not None and answer.question is not None:
            found.append(NearAnswer(answer.question, answer.text(), similarity))
    return found


def _nearest(
    key: RequestKey, search: SemanticSearch
) -> Generator[Step, Any, tuple[Sequence[float] | None, list[Neighbour]]]:
    """`key`'s embedding and the entries near it; (None, []) when it has no text or the
    embedding failed."""
    if key.text is None:
        return None, []
    vector = yield Embed(key.text)
    if vector is None:
        return None, []
    nearest = yield FindNearest(key.context, vector, search.threshold, search.limit)
    return vector, nearest


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
