"""The cache in Redis, each store standing for a process: entries and their neighbours are
shared, expire, leave with `clear()` within their namespace only; Redis trouble reads as a
miss, said once, and sharing resumes when Redis is back; a lookup costs one round trip, a
semantic one one more."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import pytest

redis = pytest.importorskip("redis", reason="the redis extra is not installed")

from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402

from infrastructure.llm.cache.answer import CachedAnswer  # noqa: E402
from infrastructure.llm.cache.lookup import Hit, HitKind, Miss, SemanticSearch  # noqa: E402
from infrastructure.llm.cache.redis_store import RedisCacheStore  # noqa: E402
from infrastructure.llm.cache.request_key import RequestKey  # noqa: E402
from infrastructure.llm.cache.response_cache import CachePolicy, ResponseCache  # noqa: E402

from .conftest import MakeStore, RedisServer, free_port  # noqa: E402

LOGGER = "infrastructure.llm.resilience.redis"
TTL = 60.0
SHORT_TTL = 0.2
X, Y = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]


def keys(found: list[tuple[str, float]]) -> list[str]:
    return [key for key, _ in found]


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER) and r.levelno == level]


def wait_until_gone(store: RedisCacheStore, key: str, within: float) -> float:
    """Seconds until `store` no longer reads `key`; fails after `within`."""
    started = time.monotonic()
    while store.get(key) is not None:
        assert time.monotonic() - started < within
        time.sleep(0.01)
    return time.monotonic() - started


def on_circle(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees)), 0.0]


# -- sharing ---------------------------------------------------------------------------------


def test_an_entry_put_by_one_process_is_read_by_another_until_it_expires(
    make_store: MakeStore,
) -> None:
    a, b = make_store(), make_store()
    a.put("k", b"answer", SHORT_TTL, "ctx", None)
    assert b.get("k") == b"answer"
    assert b.count() == 1
    assert wait_until_gone(b, "k", within=1.0) > SHORT_TTL / 2
    assert a.get("k") is None and a.count() == 0


def test_a_semantic_entry_put_by_one_process_is_found_by_another(make_store: MakeStore) -> None:
    a, b = make_store(), make_store()
    assert b.nearest("ctx", X, 0.5, 5) == []  # b has read the stream: the rest comes by it
    a.put("k", b"answer", TTL, "ctx", [0.9, 0.1, 0.0])
    assert b.nearest("ctx", X, 0.5, 5) == [("k", pytest.approx(0.99388, abs=1e-4))]
    assert b.nearest("ctx", Y, 0.5, 5) == []  # not similar enough
    assert b.nearest("other context", X, 0.5, 5) == []
    late = make_store()  # a process started after the put reads the stream from its start
    assert keys(late.nearest("ctx", X, 0.5, 5)) == ["k"]
    exact_only = make_store(semantic=False)
    assert exact_only.get("k") == b"answer"
    assert exact_only.nearest("ctx", X, 0.5, 5) == []


def test_the_vector_of_an_expired_entry_goes_once_it_is_deleted(make_store: MakeStore) -> None:
    a, b = make_store(), make_store()
    a.put("gone", b"old", SHORT_TTL, "ctx", X)
    a.put("kept", b"new", TTL, "ctx", [0.8, 0.6, 0.0])
    assert keys(b.nearest("ctx", X, 0.5, 5)) == ["gone", "kept"]
    wait_until_gone(b, "gone", within=1.0)
    # The index still holds it: the lookup that reads it missing deletes it (lookup.py).
    assert keys(b.nearest("ctx", X, 0.5, 5)) == ["gone", "kept"]
    b.delete("gone")
    assert keys(b.nearest("ctx", X, 0.5, 5)) == ["kept"]
    # Its vector expired with it: a process started now never indexes it.
    assert keys(make_store().nearest("ctx", X, 0.5, 5)) == ["kept"]


def test_a_process_that_fell_behind_indexes_the_newest_vectors(
    make_store: MakeStore, redis_url: str
) -> None:
    a, b = make_store(index_capacity=5), make_store(index_capacity=5)
    assert b.nearest("ctx", X, 0.5, 5) == []
    for degrees in range(300):
        a.put(f"k{degrees}", b"x", TTL, "ctx", on_circle(degrees))
    client = redis.Redis.from_url(redis_url)
    try:
        stream = next(iter(client.scan_iter(match="*cache:ns:log")))
        assert client.xlen(stream) < 300  # trimmed past what b read
    finally:
        client.close()
    newest = [f"k{degrees}" for degrees in range(299, 294, -1)]
    assert keys(b.nearest("ctx", on_circle(299), -1.0, 10)) == newest
    assert keys(make_store(index_capacity=5).nearest("ctx", on_circle(299), -1.0, 10)) == newest


def test_clear_and_count_keep_to_their_namespace(
    make_store: MakeStore, redis_url: str, key_prefix: str
) -> None:
    a, other_a = make_store(namespace="a"), make_store(namespace="a")
    b, nested = make_store(namespace="b"), make_store(namespace="a:e")
    for i in range(3):
        a.put(f"k{i}", b"a", TTL, "ctx", X)
    for i in range(2):
        b.put(f"k{i}", b"b", TTL, "ctx", X)
    nested.put("k0", b"nested", TTL, "ctx", X)
    assert len(other_a.nearest("ctx", X, 0.5, 10)) == 3
    assert (a.count(), b.count(), nested.count()) == (3, 2, 1)
    assert a.clear() == 3
    assert (a.count(), other_a.count(), b.count(), nested.count()) == (0, 0, 2, 1)
    assert other_a.nearest("ctx", X, 0.5, 10) == []  # the stream went: its index went too
    assert b.get("k0") == b"b" and len(b.nearest("ctx", X, 0.5, 10)) == 2
    assert nested.get("k0") == b"nested" and keys(nested.nearest("ctx", X, 0.5, 10)) == ["k0"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{key_prefix}cache:a:*")) == []
    finally:
        client.close()


def test_async_twins_share_across_event_loops(make_store: MakeStore) -> None:
    a, b = make_store(), make_store()

    async def read() -> tuple[bytes | None, list[tuple[str, float]]]:
        return await b.aget("k"), await b.anearest("ctx", X, 0.5, 5)

    async def drop() -> bytes | None:
        await b.adelete("k")
        return await a.aget("k")

    asyncio.run(a.aput("k", b"answer", TTL, "ctx", X))
    assert asyncio.run(read()) == (b"answer", [("k", pytest.approx(1.0))])
    assert asyncio.run(read()) == (b"answer", [("k", pytest.approx(1.0))])  # a new loop
    assert asyncio.run(drop()) is None
    assert asyncio.run(read()) == (None, [])


# -- Redis trouble ---------------------------------------------------------------------------


def test_redis_down_at_start_reads_as_misses_and_warns_once(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = make_store(url=f"redis://cache:s3cret@127.0.0.1:{free_port()}/0")
    assert "s3cret" not in store.where
    started = time.monotonic()
    for _ in range(20):
        store.put("k", b"answer", TTL, "ctx", X)
        assert store.get("k") is None
        assert store.nearest("ctx", X, 0.5, 5) == []
        store.delete("k")
    assert asyncio.run(store.aget("k")) is None
    assert (store.count(), store.clear()) == (0, 0)
    assert time.monotonic() - started < 0.1  # calls never wait for Redis while it is out
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1 and "s3cret" not in warnings[0].getMessage()


def test_a_killed_server_reads_as_misses_and_is_shared_again_once_back(
    redis_server: RedisServer, make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    a = make_store(url=redis_server.url)
    a.put("k", b"answer", TTL, "ctx", X)
    assert a.get("k") == b"answer"
    redis_server.kill()
    started = time.monotonic()
    assert a.get("k") is None  # a refused connection fails at once
    a.put("k2", b"answer", TTL, "ctx", Y)
    assert a.nearest("ctx", X, 0.5, 5) == []
    a.delete("k")
    assert asyncio.run(a.anearest("ctx", Y, 0.5, 5)) == []
    assert time.monotonic() - started < 0.1
    redis_server.start()
    b = make_store(url=redis_server.url)
    started = time.monotonic()
    while b.get("k3") is None:  # a's puts do nothing until it is back (its first retry)
        assert time.monotonic() - started < 2.0
        a.put("k3", b"again", TTL, "ctx", Y)
        time.sleep(0.02)
    assert keys(b.nearest("ctx", Y, 0.5, 5)) == ["k3"]
    assert len(records(caplog, logging.WARNING)) == 1
    assert len(records(caplog, logging.INFO)) == 1


def test_a_stalled_server_costs_a_call_at_most_op_timeout(
    redis_server: RedisServer, make_store: MakeStore
) -> None:
    store = make_store(url=redis_server.url, op_timeout=0.1)
    store.put("k", b"answer", TTL, "ctx", X)
    redis_server.pause(0.5)
    started = time.monotonic()
    assert store.get("k") is None
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    for _ in range(100):  # while Redis is out, calls never wait for it
        assert store.get("k") is None and store.nearest("ctx", X, 0.5, 5) == []
    assert time.monotonic() - started < 0.05
    while store.get("k") is None:  # back once the pause is over (and the retry answered)
        assert time.monotonic() - started < 2.0
        time.sleep(0.02)
    assert store.get("missing") is None  # no late reply to a timed-out read is taken for it


# -- round trips -----------------------------------------------------------------------------


class Vectors(Embeddings):
    """Fixed vectors by text."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]


def traffic(server: RedisServer, work: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """The round trips (pipelines sent) and the commands, by name, that `work` cost."""
    sent = 0
    execute = redis.client.Pipeline.execute

    def counted(self: redis.client.Pipeline, raise_on_error: bool = True) -> list[object]:
        nonlocal sent
        sent += 1
        return execute(self, raise_on_error)

    client = redis.Redis.from_url(server.url)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(redis.client.Pipeline, "execute", counted)
            before = client.info("commandstats")
            work()
            after = client.info("commandstats")
    finally:
        client.close()
    commands = {}
    for stat, value in after.items():
        calls = value["calls"] - before.get(stat, {"calls": 0})["calls"]
        if calls and stat != "cmdstat_info":
            commands[stat.removeprefix("cmdstat_")] = calls
    return sent, commands


def test_a_lookup_costs_one_round_trip_and_a_semantic_one_one_more(
    redis_server: RedisServer, make_store: MakeStore
) -> None:
    policy = CachePolicy("ns", "route", TTL, None, False, search=SemanticSearch(0.8, 3))
    embeddings = Vectors({"capital of France?": X, "France's capital?": [0.95, 0.05, 0.0]})
    a, b = (ResponseCache(policy, make_store(url=redis_server.url), embeddings) for _ in range(2))
    asked = RequestKey("exact-1", "ctx", "capital of France?")
    paraphrase = RequestKey("exact-2", "ctx", "France's capital?")
    answer = CachedAnswer(message=AIMessage("Paris"))

    miss = a.look_up(asked)
    assert type(miss) is Miss
    assert traffic(redis_server, lambda: a.keep(miss, answer)) == (1, {"set": 2, "xadd": 1})
    exact = traffic(redis_server, lambda: b.look_up(asked))
    assert exact == (1, {"get": 1, "xread": 1, "xlen": 1})  # the announcement came along
    found: list[Hit | Miss] = []
    semantic = traffic(redis_server, lambda: found.append(b.look_up(paraphrase)))
    # exact read; nearest (loads the vector announced, reads on); the neighbour's entry
    assert semantic == (3, {"get": 2, "xread": 3, "xlen": 3, "mget": 1})
    hit = found[0]
    assert type(hit) is Hit and hit.kind is HitKind.SEMANTIC
    assert hit.answer.message is not None and hit.answer.message.content == "Paris"
    again = traffic(redis_server, lambda: b.look_up(paraphrase))
    assert again == (3, {"get": 2, "xread": 3, "xlen": 3})  # nothing new to load


def test_resetting_the_shared_state_leaves_cached_answers_alone(
    make_store: MakeStore, redis_url: str, key_prefix: str
) -> None:
    from infrastructure.llm.resilience.redis import RedisState

    store = make_store()
    store.put("k", b"answer", 60.0, "ctx", None)
    state = RedisState(redis_url, key_prefix=key_prefix)
    try:
        state.reset()
    finally:
        state.close()
    assert store.get("k") == b"answer"
