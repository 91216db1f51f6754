"""`ResponseCache`: one wrapper's cache. It decides which calls it serves, keys them, runs
the lookup decisions (`lookup.py`) against its store and embeddings, in the caller's thread or
on the event loop, and keeps the answers of misses."""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage

from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.cache_stats import CacheStats
from infrastructure.llm.cache.codec import encode
from infrastructure.llm.cache.lookup import (
    Drop,
    Embed,
    FindNearest,
    Hit,
    HitKind,
    Miss,
    NearAnswer,
    Read,
    SemanticSearch,
    Step,
    look_up,
    neighbours,
)
from infrastructure.llm.cache.request_key import EmbedText, RequestKey, request_key
from infrastructure.llm.cache.store import CacheStore
from infrastructure.llm.redaction import redact

logger = logging.getLogger(__name__)

T = TypeVar("T")

BYPASS_ARGUMENT = "cache"
"""The call argument that turns the cache off for one call: `llm.invoke(x, cache=False)`."""


@dataclass(frozen=True)
class CachePolicy:
    """What one wrapper's cache does: where its entries are shared (`namespace`, `route`),
    how long they live, when they are compressed, and how semantic lookups search (None:
    exact only). Calls with a temperature above 0 are served only when `sampled`."""

    namespace: str
    route: str
    ttl: float
    compress_above: int | None
    sampled: bool
    embed: EmbedText = EmbedText.LAST_USER_MESSAGE
    search: SemanticSearch | None = None


class ResponseCache:
    """Looks calls up in `store` and keeps their answers; `embeddings` for semantic mode."""

    def __init__(
        self, policy: CachePolicy, store: CacheStore, embeddings: Embeddings | None = None
    ) -> None:
        self.policy = policy
        self.store = store
        self.embeddings = embeddings
        self.stats = CacheStats()
        self._embedding_down = False

    def key_for(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, params: dict[str, Any]
    ) -> RequestKey | None:
        """The call's key, or None (counted as bypassed) for a call the cache does not serve:
        one made with `cache=False`, or sampled (temperature > 0) unless the policy allows."""
        wanted = params.pop(BYPASS_ARGUMENT, True) is not False
        temperature = params.get("temperature")
        if not wanted or (not self.policy.sampled and temperature not in (None, 0, 0.0)):
            self.stats.add("bypassed")
            return None
        policy = self.policy
        return request_key(policy.namespace, policy.route, messages, stop, params, policy.embed)

    def describe(self) -> dict[str, Any]:
        """Counts and settings for `get_stats()`: hits by kind, misses, rates, where."""
        policy = self.policy
        return {
            "mode": "semantic" if policy.search else "exact",
            "store": self.store.where,
            "namespace": policy.namespace,
            **self.stats.snapshot(),
        }

    def look_up(self, key: RequestKey) -> Hit | Miss:
        return self._counted(self._run(look_up(key, self.policy.search)))

    async def alook_up(self, key: RequestKey) -> Hit | Miss:
        return self._counted(await self._arun(look_up(key, self.policy.search)))

    def neighbours(self, text: str, before: Sequence[BaseMessage] = ()) -> list[NearAnswer]:
        """The question/answer pairs held whose question is at least the semantic threshold
        similar to `text`, asked after `before` with no call arguments (as a plain
        `llm.invoke([*before, text])` is), most similar first; at most `max_candidates`.
        Empty in exact mode. Read-only: it stores nothing and counts no hit or miss."""
        search = self.policy.search
        if search is None:
            return []
        return self._run(neighbours(self._plain_key(text, before), search))

    async def aneighbours(self, text: str, before: Sequence[BaseMessage] = ()) -> list[NearAnswer]:
        """Async twin of `neighbours`."""
        search = self.policy.search
        if search is None:
            return []
        return await self._arun(neighbours(self._plain_key(text, before), search))

    def _plain_key(self, text: str, before: Sequence[BaseMessage]) -> RequestKey:
        policy = self.policy
        messages = [*before, HumanMessage(text)]
        return request_key(policy.namespace, policy.route, messages, None, {}, policy.embed)

    def keep(self, miss: Miss, answer: CachedAnswer) -> None:
        """Store the answer of a call that missed; a failure to store never fails the call."""
        key, policy = miss.key, self.policy
        answer = _with_question(miss, answer)
        try:
            data = encode(answer, policy.compress_above)
            self.store.put(key.exact, data, policy.ttl, key.context, miss.vector)
        except Exception as exc:
            self._not_kept(exc)
        else:
            self.stats.add("stored")

    async def akeep(self, miss: Miss, answer: CachedAnswer) -> None:
        """Async twin of `keep`."""
        key, policy = miss.key, self.policy
        answer = _with_question(miss, answer)
        try:
            data = encode(answer, policy.compress_above)
            await self.store.aput(key.exact, data, policy.ttl, key.context, miss.vector)
        except Exception as exc:
            self._not_kept(exc)
        else:
            self.stats.add("stored")

    def _not_kept(self, exc: Exception) -> None:
        logger.warning(
            "cache %s: answer not stored: %s",
            self.policy.route,
            redact(f"{type(exc).__name__}: {exc}"),
        )

    # -- carrying out the steps ---------------------------------------------------------------

    def _run(self, steps: Generator[Step, Any, T]) -> T:
        reply: Any = None
        try:
            while True:
                reply = self._perform(steps.send(reply))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _arun(self, steps: Generator[Step, Any, T]) -> T:
        reply: Any = None
        try:
            while True:
                reply = await self._aperform(steps.send(reply))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _perform(self, step: Step) -> Any:
        store = self.store
        if type(step) is Read:
            return store.get(step.key)
        if type(step) is FindNearest:
            return store.nearest(step.context, step.vector, step.threshold, step.limit)
        if type(step) is Drop:
            self.stats.add("dropped")
            return store.delete(step.key)
        assert type(step) is Embed and self.embeddings is not None
        try:
            return self._embedded(self.embeddings.embed_query(step.text))
        except Exception as exc:
            return self._embedding_failed(exc)

    async def _aperform(self, step: Step) -> Any:
        store = self.store
        if type(step) is Read:
            return await store.aget(step.key)
        if type(step) is FindNearest:
            return await store.anearest(step.context, step.vector, step.threshold, step.limit)
        if type(step) is Drop:
            self.stats.add("dropped")
            return await store.adelete(step.key)
        assert type(step) is Embed and self.embeddings is not None
        try:
            return self._embedded(await self.embeddings.aembed_query(step.text))
        except Exception as exc:
            return self._embedding_failed(exc)

    def _embedded(self, vector: list[float]) -> list[float]:
        if self._embedding_down:
            self._embedding_down = False
            logger.info("cache %s: embeddings answer again", self.policy.route)
        return vector

    def _embedding_failed(self, exc: Exception) -> None:
        """An embedding that failed leaves the exact lookup; say so once until one works."""
        self.stats.add("embedding_failures")
        if not self._embedding_down:
            self._embedding_down = True
            logger.warning(
                "cache %s: embedding failed, exact lookups only until it works: %s",
                self.policy.route,
                redact(f"{type(exc).__name__}: {exc}"),
            )

    def _counted(self, found: Hit | Miss) -> Hit | Miss:
        if type(found) is Miss:
            self.stats.add("misses")
        else:
            self.stats.add("exact_hits" if found.kind is HitKind.EXACT else "semantic_hits")
        return found


def _with_question(miss: Miss, answer: CachedAnswer) -> CachedAnswer:
    """In semantic mode (the miss has a vector) the answer keeps the text it was found by."""
    if miss.vector is None or miss.key.text is None:
        return answer
    return replace(answer, question=miss.key.text)
