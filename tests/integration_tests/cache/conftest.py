"""Fixtures for the cache in Redis: the shared state's (`redis_url`, `key_prefix`,
`redis_server` and what they stand on), re-exported, and `make_store`.

* `make_store`: RedisCacheStores (defaults: `redis_url`, the test's `key_prefix`, namespace
  `ns`, semantic), closed after the test; `redis_url` deletes the prefix's keys after it.

Without the redis client the fixtures are absent and only the tests that need them skip (the
shared state's conftest would skip this whole directory).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infrastructure.llm.cache.redis_store import RedisCacheStore

with contextlib.suppress(pytest.skip.Exception):  # no redis: test_redis_store.py skips
    from ..shared_state.conftest import (
        RedisServer,
        _session_redis,
        free_port,
        key_prefix,
        redis_server,
        redis_url,
    )

__all__ = [
    "MakeStore",
    "RedisServer",
    "_session_redis",
    "free_port",
    "key_prefix",
    "make_store",
    "redis_server",
    "redis_url",
]

INDEX_CAPACITY = 100

MakeStore = Callable[..., RedisCacheStore]


@pytest.fixture
def make_store(redis_url: str, key_prefix: str) -> Iterator[MakeStore]:
    """Build RedisCacheStores, each standing for a process of its own; closed after the test."""
    stores: list[RedisCacheStore] = []

    def make(**kwargs: Any) -> RedisCacheStore:
        kwargs.setdefault("url", redis_url)
        kwargs.setdefault("key_prefix", key_prefix)
        kwargs.setdefault("namespace", "ns")
        kwargs.setdefault("index_capacity", INDEX_CAPACITY)
        kwargs.setdefault("semantic", True)
        store = RedisCacheStore(**kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
