"""From a `cache:` section to a wrapper's `ResponseCache`: its policy, its store (one per
backend and namespace in a fleet, shared by the wrappers that name it) and its embeddings."""

from __future__ import annotations

import threading
from collections.abc import Callable

from langchain_core.embeddings import Embeddings

from infrastructure.llm.cache.lookup import SemanticSearch
from infrastructure.llm.cache.memory_store import MemoryCacheStore
from infrastructure.llm.cache.request_key import EmbedText
from infrastructure.llm.cache.response_cache import CachePolicy, ResponseCache
from infrastructure.llm.cache.store import CacheStore
from infrastructure.llm.cache.vector_index import require_numpy
from infrastructure.llm.clock import Clock
from infrastructure.llm.config.schema import CacheConfig, StateConfig
from infrastructure.llm.errors import LLMWrapperError


class CacheStores:
    """The cache stores of one fleet, made on first use and closed with it. A namespace's
    store is sized by the first `cache:` section that opens it."""

    def __init__(self, state: StateConfig, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._lock = threading.Lock()
        self._stores: dict[tuple[str, str, str, bool], CacheStore] = {}

    def store_for(self, config: CacheConfig) -> CacheStore:
        url = self._redis_url(config) if config.backend == "redis" else ""
        # A Redis store indexes vectors only in semantic mode; memory stores index lazily.
        semantic = config.backend == "redis" and config.mode == "semantic"
        slot = (config.backend, url, config.namespace, semantic)
        with self._lock:
            store = self._stores.get(slot)
            if store is None:
                store = self._stores[slot] = self._open(config, url, semantic)
            return store

    def stores(self) -> list[CacheStore]:
        with self._lock:
            return list(self._stores.values())

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    def _open(self, config: CacheConfig, url: str, semantic: bool) -> CacheStore:
        if config.backend == "memory":
            return MemoryCacheStore(config.max_entries, self._clock)
        from infrastructure.llm.cache.redis_store import RedisCacheStore

        return RedisCacheStore(
            url,
            key_prefix=self._state.key_prefix,
            namespace=config.namespace,
            index_capacity=config.max_entries,
            op_timeout=self._state.op_timeout,
            semantic=semantic,
        )

    def _redis_url(self, config: CacheConfig) -> str:
        url = config.url or self._state.url
        if url is None:
            raise LLMWrapperError(
                "cache backend 'redis' needs a url: set cache.url, or url in state.yaml"
            )
        return url.get_secret_value()


def build_response_cache(
    config: CacheConfig | None,
    route: str,
    stores: CacheStores,
    embeddings_for: Callable[[str], Embeddings],
) -> ResponseCache | None:
    """The cache of a wrapper routing `route`, or None when `config` turns none on."""
    if config is None or not config.enabled:
        return None
    search, embeddings = None, None
    if config.mode == "semantic":
        assert config.embeddings is not None  # the schema requires it
        require_numpy()
        search = SemanticSearch(config.similarity_threshold, config.max_candidates)
        embeddings = embeddings_for(config.embeddings)
    policy = CachePolicy(
        namespace=config.namespace,
        route=route,
        ttl=config.ttl,
        compress_above=config.compress_above if config.compress else None,
        sampled=config.include_sampled,
        embed=EmbedText(config.embed),
        search=search,
    )
    return ResponseCache(policy, stores.store_for(config), embeddings)
