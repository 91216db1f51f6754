"""Response cache: what a hit saves, what entries cost, what Redis adds, and how well
semantic lookups tell a paraphrase from a near miss (issue 13, item 8).

Needs numpy (the `semantic` extra) and, for the Redis figures, the `redis` extra and a Redis
server (default the machine's, redis://127.0.0.1:6379/0). Every Redis key this run writes is
under a prefix of its own, `llm-wrappers-bench:<uuid>:`, and is deleted at the end.

1. Hit latency against a miss, over HTTP. One simulator in a child process runs two
   instances: chat completions answered after `--chat-latency` seconds (default 0.3, about a
   short answer from a served model) and `/v1/embeddings` answered after `--embed-latency`
   (default 0.02, about a small embedding model; the simulator delays embeddings like chat,
   so they get an instance of their own). An `LLMWrapperFactory` over one config directory
   builds four `TaskGroupWrapper`s, each `ChatOpenAI` (provider `openai`) over the chat
   instance with a cache of its own: exact or semantic mode (embeddings: an `openai`-provider
   registry model of `kind: embeddings` over the embeddings instance), memory or Redis
   backend. Each sample is one `invoke`: a miss asks a question no earlier one resembles
   (random tokens, so no semantic neighbour either), then the same question again is an
   exact hit, and (semantic mode) a reworded question with one token fewer is a semantic hit
   (similarity about 0.94). The four wrappers take turns, sample by sample. For reference,
   one embeddings request alone is timed too: a semantic hit cannot be faster. Time saved is
   1 - hit p50 / miss p50 of the same wrapper. The seed claims 95% saved by an exact hit,
   60-80% by a semantic one.
2. Memory per 10,000 entries, measured with tracemalloc (Python allocations, numpy's buffers
   included; not RSS): a `MemoryCacheStore` filled through `ResponseCache.keep` with 10,000
   typical answers (the metadata of a real `ChatOpenAI` answer from the simulator, and
   300-500 characters of text each, stored the default way: zlib above 1,024 bytes), exact
   only, then semantic with 768-dimension vectors (the keys and answers are made inside the
   measurement; the vectors outside, as an embeddings server would send them).
3. Redis round-trip cost: `ResponseCache` over a `MemoryCacheStore` against one over a
   `RedisCacheStore`, each first given 1,000 entries; then, interleaved op by op and store by
   store, what a miss does (lookup, then store) and a hit, in exact and in semantic mode (the
   in-process mock embeddings on both sides, so the difference is Redis alone). Stores go to
   a second cache of the same kind, so the index the lookups search keeps its 1,000 vectors.
   p50 of each, and the difference in ms, against the round trips the store's design
   promises times the p50 of a bare PING.
4. Hit rate on the paraphrase set `tests/data/paraphrases.yaml`, English and Chinese apart:
   for each pair, a fresh semantic cache (threshold 0.8, the default) keeps an answer for the
   first prompt and is asked the second. The hit rate on `match` pairs, and the false-hit
   rate on `near_miss` and `unrelated` pairs. Embeddings: the in-process mock (faster), after
   checking that the simulator's `/v1/embeddings` serves the same vectors for every prompt.

Parts 1 and 3 run `--rounds` rounds (5); every round is printed, then the median and the
spread (min-max) across rounds. The full run takes about two and a half minutes on a quiet
2-core machine; `--quick` about one and a quarter: fewer samples per round (3 misses and 3
hits each in part 1, 300 ops in part 3), the same rounds and the same 10,000 entries (part 2
alone takes some 20 s under tracemalloc).

With `--chart PATH` the run also draws a PNG (matplotlib, the `bench` extra): the latency
CDFs of part 1 (miss, exact hit, semantic hit; every sample of every round), one panel per
backend, and of part 3's hit lookups, memory against Redis.

    python bench/cache.py [--quick] [--rounds 5] [--chat-latency 0.3] [--embed-latency 0.02]
                          [--redis-url URL] [--only latency|memory|redis|paraphrase]
                          [--chart PATH]
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import redis
import yaml
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts

from infrastructure.llm import BaseLLMWrapper, LLMWrapperFactory
from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.codec import encode
from infrastructure.llm.cache.lookup import Hit, HitKind, Miss, SemanticSearch
from infrastructure.llm.cache.memory_store import MemoryCacheStore
from infrastructure.llm.cache.redis_store import RedisCacheStore
from infrastructure.llm.cache.request_key import RequestKey
from infrastructure.llm.cache.response_cache import CachePolicy, ResponseCache
from infrastructure.llm.cache.store import CacheStore
from infrastructure.llm.clock import MonotonicClock
from infrastructure.llm.providers.embeddings import MockEmbeddings, OpenAICompatibleEmbeddings
from infrastructure.llm.providers.hashed_features import (
    DEFAULT_DIMENSIONS,
    cosine_similarity,
    hashed_feature_vector,
)

from bench_config import write_config_dir
from sim_process import simulator_process

T = TypeVar("T")

REDIS_URL = "redis://127.0.0.1:6379/0"
PARAPHRASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "paraphrases.yaml"

EXACT_CLAIM = 0.95  # seed: an exact hit saves 95% of a call's time
SEMANTIC_CLAIM = (0.60, 0.80)  # seed: a semantic hit saves 60-80%
THRESHOLD = 0.8  # the default similarity_threshold
CANDIDATES = 5  # the default max_candidates
TTL = 3600.0  # the default ttl
COMPRESS_ABOVE = 1024  # the default compress_above

ENTRIES = 10_000  # part 2
ANSWER_CHARS = (300, 500)  # part 2: text of a typical answer
FILL = 1_000  # part 3: entries in each store before timing
QUESTION_TOKENS = 8  # random tokens in a question of parts 1 and 3

PARTS = ("latency", "memory", "redis", "paraphrase")
BACKENDS = ("memory", "redis")
MODES = ("exact", "semantic")
OUTCOMES = {"exact": ("miss", "exact"), "semantic": ("miss", "exact", "semantic")}

_PROSE = """
    the model answers each request with a short text that explains how a system works and
    why it matters for users who need reliable results from their data in production when
    traffic grows quickly across regions so teams should measure latency cost and quality
    before they change the cache settings or the routing of calls between servers that run
    large language models on shared hardware with limited memory and careful monitoring
"""
_WORDS = tuple(_PROSE.split())  # the vocabulary of part 2's answers


@dataclass(frozen=True)
class Sizes:
    """Samples per round: part 1's misses per wrapper and hits per miss, part 3's ops."""

    misses: int
    hits: int
    ops: int


FULL = Sizes(misses=10, hits=5, ops=1000)
QUICK = Sizes(misses=3, hits=3, ops=300)


# -- figures ----------------------------------------------------------------------------------


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], digits: int, scale: float = 1.0) -> str:
    """`median (min-max)` of one figure across rounds, times `scale`."""
    low, mid, high = (scale * v for v in (min(values), statistics.median(values), max(values)))
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """`items` starting at position `shift`, so no one always goes first."""
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def timed(work: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def exact_verdict(saved: float) -> str:
    return f"claim {EXACT_CLAIM:.0%}: " + ("met" if saved >= EXACT_CLAIM else "NOT met")


def semantic_verdict(saved: float) -> str:
    low, high = SEMANTIC_CLAIM
    claim = f"claim {low:.0%}-{high:.0%}: "
    if saved < low:
        return claim + "NOT met"
    if saved <= high:
        return claim + "met"
    return claim + "met (more saved than claimed)"


# -- questions and answers --------------------------------------------------------------------


def fresh_question() -> tuple[str, str]:
    """A question no other resembles (random tokens share no hashed word feature), and a
    rewording with other stop words and one token fewer (similarity 7/sqrt(56), 0.935)."""
    tokens = [secrets.token_hex(3) for _ in range(QUESTION_TOKENS)]
    return f"Explain {' '.join(tokens)}.", f"Could you please explain {' '.join(tokens[:-1])}?"


def answer_text(rng: random.Random) -> str:
    """Some 300-500 characters of prose-like text."""
    target, length = rng.randint(*ANSWER_CHARS), 0
    words: list[str] = []
    while length < target:
        words.append(rng.choice(_WORDS))
        length += len(words[-1]) + 1
    return " ".join(words).capitalize() + "."


def typical_answer(template: AIMessage, rng: random.Random) -> CachedAnswer:
    """A cached answer as `ResponseCache` keeps one: `template`'s metadata, new text, no id."""
    return CachedAnswer(message=template.model_copy(update={"content": answer_text(rng)}))


def sample_reply(chat_url: str) -> AIMessage:
    """One answer of the simulator as `ChatOpenAI` returns it, routing-free and id-free."""
    chat = ChatOpenAI(model="sim-model", base_url=chat_url, api_key="sk-bench", max_retries=0)
    message = chat.invoke("Say something short.")
    return message.model_copy(update={"id": None})


def policy(semantic: bool) -> CachePolicy:
    """The defaults of a `cache:` section, for route `bench`."""
    search = SemanticSearch(THRESHOLD, CANDIDATES) if semantic else None
    return CachePolicy(
        namespace="bench",
        route="bench",
        ttl=TTL,
        compress_above=COMPRESS_ABOVE,
        sampled=False,
        search=search,
    )


def key_of(cache: ResponseCache, prompt: str) -> RequestKey:
    key = cache.key_for([HumanMessage(prompt)], None, {})
    assert key is not None
    return key


# -- Redis ------------------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError as exc:
        print(f"(no Redis at {url}: {exc}; the Redis figures are skipped)")
        return False
    return True


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under `prefix`; returns how many went."""
    client = redis.Redis.from_url(url)
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    deleted = sum(client.unlink(*names[i : i + 1000]) for i in range(0, len(names), 1000))
    client.close()
    return deleted


def ping_p50(client: redis.Redis, samples: int) -> float:
    """p50 seconds of a bare PING: one round trip to this Redis."""
    return p50([timed(client.ping)[1] for _ in range(samples)])


# -- 1. latency over HTTP ---------------------------------------------------------------------


def wrapper_names(backends: Sequence[str]) -> list[str]:
    return [f"{mode}_{backend}" for backend in backends for mode in MODES]


def latency_config(
    root: Path, chat_url: str, embed_url: str, names: Sequence[str], redis_url: str, prefix: str
) -> Path:
    """One group per wrapper name (`<mode>_<backend>`), each with its own cache namespace.
    The shared state stays in this process; only the Redis caches use Redis."""
    models = {
        "chat": {"provider": "openai", "model": "sim-model", "base_url": chat_url},
        "vectors": {
            "kind": "embeddings",
            "provider": "openai",
            "model": "sim-embeddings",
            "base_url": embed_url,
        },
    }
    groups = {}
    for name in names:
        mode, backend = name.split("_")
        cache: dict[str, Any] = {"mode": mode, "backend": backend, "namespace": name}
        if mode == "semantic":
            cache["embeddings"] = "vectors"
        if backend == "redis":
            cache["url"] = redis_url
        echelon = {"models": ["chat"], "timeout": 30, "max_retries": 0}
        groups[name] = {"echelon1": echelon, "cache": cache}
    directory = write_config_dir(root, models, groups)
    (directory / "state.yaml").write_text(yaml.safe_dump({"key_prefix": prefix}))
    return directory


@dataclass
class LatencyRound:
    """Seconds per wrapper and outcome (`miss`, `exact`, `semantic`), embeddings requests
    alone, the similarity of each semantic hit, and calls whose outcome was not the one
    asked for (left out of the figures)."""

    seconds: dict[str, dict[str, list[float]]]
    embedding: list[float] = field(default_factory=list)
    similarities: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, name: str, wanted: str, wrapper: BaseLLMWrapper, prompt: str) -> None:
        message, seconds = timed(lambda: wrapper.invoke(prompt))
        routing = message.response_metadata["routing"]
        outcome = routing["cache_hit"] or "miss"
        self.outcomes[(name, outcome)] += 1
        if outcome != wanted:
            self.unexpected.append(f"{name}: asked for {wanted}, got {outcome}")
            return
        self.seconds[name][outcome].append(seconds)
        if outcome == "semantic":
            self.similarities.append(routing["similarity"])


def latency_round(
    wrappers: dict[str, BaseLLMWrapper],
    embeddings: OpenAICompatibleEmbeddings,
    sizes: Sizes,
    shift: int,
) -> LatencyRound:
    """Per miss, each wrapper in turn: a new question, then its exact hits and, in semantic
    mode, its semantic hits (so exact hits follow the same calls in both modes); then one
    embeddings request alone."""
    found = LatencyRound({name: {o: [] for o in OUTCOMES[name.split("_")[0]]} for name in wrappers})
    for number in range(sizes.misses):
        reworded = ""
        for name, wrapper in rotated(list(wrappers.items()), shift + number):
            question, reworded = fresh_question()
            found.record(name, "miss", wrapper, question)
            for _ in range(sizes.hits):
                found.record(name, "exact", wrapper, question)
            for _ in range(sizes.hits if name.startswith("semantic") else 0):
                found.record(name, "semantic", wrapper, reworded)
        found.embedding.append(timed(lambda text=reworded: embeddings.embed_query(text))[1])
    return found


def warm_up(wrappers: dict[str, BaseLLMWrapper], embeddings: OpenAICompatibleEmbeddings) -> None:
    """Open every connection (chat, embeddings, Redis) before timing."""
    for wrapper in wrappers.values():
        question, reworded = fresh_question()
        for prompt in (question, question, reworded):
            wrapper.invoke(prompt)
        wrapper.reset_stats()
    for _ in range(3):
        embeddings.embed_query(fresh_question()[0])


def stats_agree(wrappers: dict[str, BaseLLMWrapper], rounds: list[LatencyRound]) -> list[str]:
    """Where a wrapper's `get_stats()["cache"]` counts differ from the outcomes its answers
    reported (`routing.cache_hit`)."""
    seen: Counter[tuple[str, str]] = sum((r.outcomes for r in rounds), Counter())
    fields = {"miss": "misses", "exact": "exact_hits", "semantic": "semantic_hits"}
    differences = []
    for name, wrapper in wrappers.items():
        counted = wrapper.get_stats()["cache"]
        for outcome, key in fields.items():
            if counted[key] != seen[(name, outcome)]:
                differences.append(
                    f"{name} {key}: {counted[key]}, answers said {seen[(name, outcome)]}"
                )
    return differences


def print_latency_round(number: int, found: LatencyRound) -> None:
    parts = []
    for name, outcomes in found.seconds.items():
        figures = ", ".join(f"{o} {p50(s) * 1000:.2f}" for o, s in outcomes.items() if s)
        parts.append(f"{name}: {figures}")
    parts.append(f"embeddings request {p50(found.embedding) * 1000:.2f}")
    print(f"  round {number} (p50 ms): " + "; ".join(parts))
    for line in found.unexpected:
        print(f"    UNEXPECTED {line}")


def summarise_latency(rounds: list[LatencyRound]) -> None:
    print(f"\n  summary over {len(rounds)} rounds, p50 ms: median (min-max)")
    for name in rounds[0].seconds:
        mode, backend = name.split("_")
        miss = [p50(r.seconds[name]["miss"]) for r in rounds]
        print(f"  {backend} backend, {mode} mode: miss {spread(miss, 1, 1000)} ms")
        for outcome in OUTCOMES[mode][1:]:
            hits = [p50(r.seconds[name][outcome]) for r in rounds]
            saved = [1 - h / m for h, m in zip(hits, miss, strict=True)]
            verdict = (exact_verdict if outcome == "exact" else semantic_verdict)(p50(saved))
            print(
                f"    {outcome} hit {spread(hits, 2, 1000)} ms, "
                f"saved {spread(saved, 1, 100)}%  {verdict}"
            )
    embedding = [p50(r.embedding) for r in rounds]
    print(f"  one embeddings request alone: {spread(embedding, 2, 1000)} ms")
    for backend in {name.split("_")[1]: None for name in rounds[0].seconds}:
        print(f"  {backend}: what semantic mode adds (p50 ms, against the same round)")
        extra = [
            p50(r.seconds[f"semantic_{backend}"]["miss"])
            - p50(r.seconds[f"exact_{backend}"]["miss"])
            for r in rounds
        ]
        beyond = [
            p50(r.seconds[f"semantic_{backend}"]["semantic"]) - p50(r.embedding) for r in rounds
        ]
        print(f"    to a miss, over an exact-mode miss: {spread(extra, 2, 1000)} ms")
        print(f"    to a semantic hit, beyond its embeddings request: {spread(beyond, 2, 1000)} ms")
    similarities = [s for r in rounds for s in r.similarities]
    if similarities:
        print(f"  similarity of the semantic hits: {p50(similarities):.3f}")
    unexpected = sum(len(r.unexpected) for r in rounds)
    print(f"  calls with another outcome than asked for (left out): {unexpected}")


def measure_latency(
    chat_url: str,
    embed_url: str,
    backends: Sequence[str],
    redis_url: str,
    prefix: str,
    rounds: int,
    sizes: Sizes,
) -> list[LatencyRound]:
    """Part 1's rounds, printed and summed up; returned for the chart."""
    names = wrapper_names(backends)
    with tempfile.TemporaryDirectory() as tmp:
        directory = latency_config(Path(tmp), chat_url, embed_url, names, redis_url, prefix)
        with LLMWrapperFactory.from_config_dir(directory) as factory:
            wrappers = {name: factory.get_wrapper(f"{name}_wrapper") for name in names}
            embeddings = OpenAICompatibleEmbeddings(
                model="sim-embeddings", base_url=embed_url, api_key="sk-bench", max_retries=0
            )
            warm_up(wrappers, embeddings)
            found = []
            for number in range(1, rounds + 1):
                found.append(latency_round(wrappers, embeddings, sizes, number))
                print_latency_round(number, found[-1])
            summarise_latency(found)
            differences = stats_agree(wrappers, found)
            print(
                "  get_stats()['cache'] counts agree with the answers' cache_hit: "
                + ("yes" if not differences else "NO: " + "; ".join(differences))
            )
    return found


# -- 2. memory per 10,000 entries -------------------------------------------------------------


def question_vectors(prompts: Iterable[str]) -> np.ndarray:
    """The hashed word feature vectors of `prompts` (what the simulator would send), as one
    float32 matrix."""
    return np.asarray([hashed_feature_vector(p) for p in prompts], dtype=np.float32)


def filled_store(template: AIMessage, vectors: np.ndarray | None, prompts: list[str]) -> int:
    """tracemalloc bytes of a store filled with one answer per prompt, keys and answers made
    while tracing; `vectors` (made before) are given to `keep` for semantic entries."""
    rng = random.Random(13)
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    store = MemoryCacheStore(len(prompts), MonotonicClock())
    cache = ResponseCache(policy(vectors is not None), store)
    for number, prompt in enumerate(prompts):
        vector = None if vectors is None else vectors[number]
        cache.keep(Miss(key_of(cache, prompt), vector), typical_answer(template, rng))
    assert store.count() == len(prompts)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    del store, cache
    return traced


def payload_sizes(template: AIMessage, entries: int) -> tuple[int, int]:
    """Bytes of the encoded answers `filled_store` keeps, and how many are compressed."""
    rng = random.Random(13)
    encoded = [encode(typical_answer(template, rng), COMPRESS_ABOVE) for _ in range(entries)]
    return sum(map(len, encoded)), sum(1 for data in encoded if data[:1] == b"z")


def measure_memory(template: AIMessage, entries: int) -> None:
    prompts = [f"Question {n}: {answer_text(random.Random(n))[:80]}" for n in range(entries)]
    payload, compressed = payload_sizes(template, entries)
    exact = filled_store(template, None, prompts)
    vectors = question_vectors(prompts)
    semantic = filled_store(template, vectors, prompts)
    del vectors
    ideal = entries * DEFAULT_DIMENSIONS * 4
    mb = 1e6
    print(f"  typical answer: {payload / entries:.0f} B encoded on average")
    print(f"    ({compressed:,} of {entries:,} were over {COMPRESS_ABOVE} B as JSON: zlib)")
    print(
        f"  exact only:    {exact / mb:.1f} MB per {entries:,} entries, "
        f"{exact / entries:,.0f} B per entry ({(exact - payload) / entries:,.0f} B besides "
        f"the encoded answer)"
    )
    print(
        f"  semantic, {DEFAULT_DIMENSIONS}-d: {semantic / mb:.1f} MB per {entries:,} entries, "
        f"{semantic / entries:,.0f} B per entry; the vectors add {(semantic - exact) / mb:.1f} MB"
    )
    print(
        f"    the store's docs (redis_store.py): capacity x dimensions x 4 B = "
        f"{ideal / mb:.1f} MB plus keys; measured {(semantic - exact) / ideal:.2f}x that"
    )
    print("  (no figure in the seed or the issue to hold these to)")


# -- 3. the Redis round trip ------------------------------------------------------------------


OPS = ("miss lookup", "store", "hit lookup")
ROUND_TRIPS = {  # the store's design (redis_store.py), per op and mode
    ("exact", "miss lookup"): 1,
    ("exact", "store"): 1,
    ("exact", "hit lookup"): 1,
    ("semantic", "miss lookup"): 2,  # GET; nearest
    ("semantic", "store"): 1,
    ("semantic", "hit lookup"): 3,  # GET; nearest; the candidate's GET
}


@dataclass(frozen=True)
class CachePair:
    """Two caches of one mode over one kind of store: `reads` holds the `FILL` entries the
    lookups search, `writes` takes the stores, so the searched index keeps its size."""

    reads: ResponseCache
    writes: ResponseCache


def cache_over(
    backend: str, mode: str, namespace: str, redis_url: str, prefix: str, capacity: int
) -> ResponseCache:
    semantic = mode == "semantic"
    store: CacheStore
    if backend == "memory":
        store = MemoryCacheStore(capacity, MonotonicClock())
    else:
        store = RedisCacheStore(
            redis_url,
            key_prefix=prefix,
            namespace=namespace,
            index_capacity=capacity,
            semantic=semantic,
        )
    return ResponseCache(policy(semantic), store, MockEmbeddings() if semantic else None)


def roundtrip_caches(redis_url: str, prefix: str, capacity: int) -> dict[str, CachePair]:
    """`<mode>_<backend>` pairs; the Redis ones in namespaces of their own."""
    return {
        f"{mode}_{backend}": CachePair(
            *(
                cache_over(backend, mode, f"{mode}-{use}", redis_url, prefix, capacity)
                for use in ("reads", "writes")
            )
        )
        for mode in MODES
        for backend in BACKENDS
    }


def fill(pairs: dict[str, CachePair], template: AIMessage) -> list[tuple[str, str]]:
    """`FILL` questions answered in every `reads` cache, as a miss keeps them; returns them."""
    rng = random.Random(29)
    questions = [fresh_question() for _ in range(FILL)]
    for pair in pairs.values():
        for question, _ in questions:
            miss = pair.reads.look_up(key_of(pair.reads, question))
            assert type(miss) is Miss
            pair.reads.keep(miss, typical_answer(template, rng))
    return questions


@dataclass
class RoundTripRound:
    """Seconds per (mode, backend, op), a PING's p50, and outcomes not as expected."""

    seconds: dict[tuple[str, str, str], list[float]]
    ping: float = 0.0
    unexpected: list[str] = field(default_factory=list)


def op_inputs(
    cache: ResponseCache, known: list[tuple[str, str]], count: int, seed: int
) -> list[tuple[RequestKey, RequestKey]]:
    """Per op: a fresh question's key (to miss, then store) and a known one's key (to hit:
    itself in exact mode, its rewording in semantic mode)."""
    rng = random.Random(seed)
    semantic = cache.policy.search is not None
    keys = []
    for _ in range(count):
        question, reworded = rng.choice(known)
        hit = key_of(cache, reworded if semantic else question)
        keys.append((key_of(cache, fresh_question()[0]), hit))
    return keys


def one_op(
    pair: CachePair, fresh: RequestKey, known: RequestKey, answer: CachedAnswer
) -> tuple[tuple[float, float, float], Hit | Miss]:
    """What a miss does (look up, store), then a hit: the seconds of each, and the hit."""
    miss, lookup = timed(lambda: pair.reads.look_up(fresh))
    if type(miss) is not Miss:
        raise RuntimeError(f"a never-seen question was found in the cache: {miss!r:.200}")
    _, store = timed(lambda: pair.writes.keep(miss, answer))
    hit, found = timed(lambda: pair.reads.look_up(known))
    return (lookup, store, found), hit


def roundtrip_round(
    pairs: dict[str, CachePair],
    known: list[tuple[str, str]],
    template: AIMessage,
    ops: int,
    number: int,
    client: redis.Redis,
) -> RoundTripRound:
    """Op by op, mode by mode, memory and Redis in turn (each starting first in turn)."""
    found = RoundTripRound({(m, b, op): [] for m in MODES for b in BACKENDS for op in OPS})
    rng = random.Random(number)
    inputs = {
        mode: op_inputs(pairs[f"{mode}_memory"].reads, known, ops, number * 100 + i)
        for i, mode in enumerate(MODES)
    }
    for index in range(ops):
        for mode in rotated(MODES, index):
            fresh, known_key = inputs[mode][index]
            answer = typical_answer(template, rng)
            for backend in rotated(BACKENDS, index + number):
                seconds, hit = one_op(pairs[f"{mode}_{backend}"], fresh, known_key, answer)
                for op, value in zip(OPS, seconds, strict=True):
                    found.seconds[(mode, backend, op)].append(value)
                if type(hit) is not Hit or hit.kind != HitKind(mode):
                    found.unexpected.append(f"{mode} {backend}: {hit!r:.80}")
    found.ping = ping_p50(client, min(ops, 500))
    return found


def print_roundtrip_round(number: int, found: RoundTripRound) -> None:
    parts = []
    for mode in MODES:
        for op in OPS:
            memory = p50(found.seconds[(mode, "memory", op)]) * 1000
            shared = p50(found.seconds[(mode, "redis", op)]) * 1000
            parts.append(f"{mode} {op} {memory:.3f}/{shared:.3f}")
    print(f"  round {number} (p50 ms, memory/Redis): " + "; ".join(parts))
    print(f"    PING {found.ping * 1000:.3f} ms; unexpected outcomes: {len(found.unexpected)}")
    for line in found.unexpected[:3]:
        print(f"    UNEXPECTED {line}")


def summarise_roundtrip(rounds: list[RoundTripRound]) -> None:
    print(f"\n  summary over {len(rounds)} rounds, p50 ms: median (min-max)")
    pings = [r.ping for r in rounds]
    print(f"  bare PING (redis-py, sync): {spread(pings, 3, 1000)} ms")
    print(f"  {'':27} {'memory':>22} {'Redis':>22} {'Redis - memory':>22}  design")
    for mode in MODES:
        for op in OPS:
            memory = [p50(r.seconds[(mode, "memory", op)]) for r in rounds]
            shared = [p50(r.seconds[(mode, "redis", op)]) for r in rounds]
            added = [s - m for s, m in zip(shared, memory, strict=True)]
            trips = ROUND_TRIPS[(mode, op)]
            print(
                f"  {mode + ' ' + op:27} {spread(memory, 3, 1000):>22} "
                f"{spread(shared, 3, 1000):>22} {spread(added, 3, 1000):>22}  "
                f"{trips} round trip{'s' if trips > 1 else ''} "
                f"(x PING = {trips * p50(pings) * 1000:.3f} ms)"
            )
    print("  (no figure in the seed or the issue to hold these to; the design column is")
    print("  what redis_store.py promises, in round trips, times this run's PING p50)")


def measure_roundtrip(
    template: AIMessage, redis_url: str, prefix: str, rounds: int, sizes: Sizes
) -> list[RoundTripRound]:
    """Part 3's rounds, printed and summed up; returned for the chart."""
    pairs = roundtrip_caches(redis_url, prefix, FILL + rounds * sizes.ops + 1)
    client = redis.Redis.from_url(redis_url)
    try:
        known = fill(pairs, template)
        found = []
        for number in range(1, rounds + 1):
            found.append(roundtrip_round(pairs, known, template, sizes.ops, number, client))
            print_roundtrip_round(number, found[-1])
        summarise_roundtrip(found)
        return found
    finally:
        client.close()
        for pair in pairs.values():
            for cache in (pair.reads, pair.writes):
                close = getattr(cache.store, "close", None)
                if close is not None:
                    close()


# -- 4. the paraphrase set --------------------------------------------------------------------


CATEGORIES = ("match", "near_miss", "unrelated")
LANGUAGES = ("en", "zh")


def paraphrase_pairs() -> dict[str, dict[str, list[tuple[str, str]]]]:
    """category -> language -> pairs, from tests/data/paraphrases.yaml."""
    loaded = yaml.safe_load(PARAPHRASES.read_text(encoding="utf-8"))
    return {
        category: {lang: [(p[0], p[1]) for p in loaded[category][lang]] for lang in LANGUAGES}
        for category in CATEGORIES
    }


def same_vectors_as_simulator(embed_url: str, texts: list[str]) -> float:
    """The largest difference between the simulator's vectors and the mock's for `texts`."""
    remote = OpenAICompatibleEmbeddings(
        model="sim-embeddings", base_url=embed_url, api_key="sk-bench", max_retries=0
    ).embed_documents(texts)
    local = MockEmbeddings().embed_documents(texts)
    return float(np.max(np.abs(np.asarray(remote) - np.asarray(local))))


def pair_found(first: str, second: str, template: AIMessage) -> Hit | Miss:
    """A fresh semantic cache (mock embeddings) keeps an answer to `first`; asked `second`."""
    cache = ResponseCache(policy(True), MemoryCacheStore(10, MonotonicClock()), MockEmbeddings())
    miss = cache.look_up(key_of(cache, first))
    assert type(miss) is Miss
    cache.keep(miss, CachedAnswer(message=template.model_copy(update={"content": first})))
    return cache.look_up(key_of(cache, second))


def measure_paraphrases(template: AIMessage, embed_url: str | None) -> None:
    pairs = paraphrase_pairs()
    texts = sorted({t for c in pairs.values() for ps in c.values() for p in ps for t in p})
    if embed_url is not None:
        difference = same_vectors_as_simulator(embed_url, texts)
        print(
            f"  the simulator's /v1/embeddings against the mock, {len(texts)} prompts: "
            f"largest difference {difference:.2g}"
        )
    for lang in LANGUAGES:
        print(f"  {lang}:")
        for category in CATEGORIES:
            found = [(a, b, pair_found(a, b, template)) for a, b in pairs[category][lang]]
            hits = [(a, b) for a, b, f in found if type(f) is Hit]
            wanted = category == "match"
            rate = len(hits) / len(found)
            label = "hit rate" if wanted else "false-hit rate"
            ideal = "100%" if wanted else "0%"
            print(
                f"    {category:9} {label:14} {rate:6.1%} ({len(hits)}/{len(found)})"
                f"  (no claim in the seed; ideal {ideal})"
            )
            wrong = [(a, b) for a, b, f in found if (type(f) is Hit) != wanted]
            for a, b in wrong:
                similarity = cosine_similarity(hashed_feature_vector(a), hashed_feature_vector(b))
                what = "missed" if wanted else "false hit"
                print(f"      {what}: {a!r} ~ {b!r}: similarity {similarity:.3f}")


# -- the run ----------------------------------------------------------------------------------


@contextmanager
def simulator(chat_latency: float, embed_latency: float) -> Iterator[tuple[str, str]]:
    """The chat instance and the embeddings instance, in one child process."""
    faults = [f"slow:{s:g}" if s > 0 else "healthy" for s in (chat_latency, embed_latency)]
    with simulator_process(*faults) as (chat_url, embed_url):
        yield chat_url, embed_url


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of parts 1 and 3")
    parser.add_argument("--chat-latency", type=float, default=0.3, help="simulator, seconds")
    parser.add_argument("--embed-latency", type=float, default=0.02, help="embeddings, seconds")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--only", choices=PARTS, help="one part")
    charts.add_options(parser)
    return parser.parse_args()


def chart_panels(
    latency: list[LatencyRound], roundtrip: list[RoundTripRound]
) -> list[charts.Panel]:
    """Part 1: per backend, each mode's outcomes and the embeddings request alone; part 3:
    the hit lookups, memory against Redis, per mode. Every sample of every round, in ms."""
    panels: list[charts.Panel] = []
    backends = dict.fromkeys(name.split("_")[1] for name in latency[0].seconds) if latency else {}
    for backend in backends:
        series = {
            f"{mode} mode, {outcome}{'' if outcome == 'miss' else ' hit'}": [
                1000 * v for r in latency for v in r.seconds[f"{mode}_{backend}"][outcome]
            ]
            for mode in MODES
            for outcome in OUTCOMES[mode]
        }
        series["one embeddings request alone"] = [1000 * v for r in latency for v in r.embedding]
        panels.append(charts.CdfPanel(f"{backend} backend: one invoke over HTTP", series))
    if roundtrip:
        series = {
            f"{mode}, {backend}": [
                1000 * v for r in roundtrip for v in r.seconds[mode, backend, "hit lookup"]
            ]
            for mode in MODES
            for backend in BACKENDS
        }
        panels.append(charts.CdfPanel("ResponseCache hit lookup: memory vs Redis store", series))
    return panels


def main() -> int:
    args = parse_args()
    sizes = QUICK if args.quick else FULL
    logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")
    shared = redis_answers(args.redis_url)
    backends = BACKENDS if shared else BACKENDS[:1]
    prefix = f"llm-wrappers-bench:{uuid.uuid4().hex}:"
    parts = {args.only} if args.only else set(PARTS)
    latency: list[LatencyRound] = []
    roundtrip: list[RoundTripRound] = []
    started = time.perf_counter()
    try:
        with simulator(args.chat_latency, args.embed_latency) as (chat_url, embed_url):
            template = sample_reply(chat_url)
            if "latency" in parts:
                print(
                    f"1. hit latency against a miss, over HTTP: chat answers after "
                    f"{args.chat_latency:g} s, embeddings after {args.embed_latency:g} s; "
                    f"per round and wrapper {sizes.misses} misses, {sizes.hits} hits of each "
                    f"kind per miss"
                )
                latency = measure_latency(
                    chat_url, embed_url, backends, args.redis_url, prefix, args.rounds, sizes
                )
            if "memory" in parts:
                print(f"\n2. memory per {ENTRIES:,} entries in a MemoryCacheStore (tracemalloc)")
                measure_memory(template, ENTRIES)
            if "redis" in parts and shared:
                print(
                    f"\n3. Redis round trip: ResponseCache over MemoryCacheStore and "
                    f"RedisCacheStore ({args.redis_url}), {FILL:,} entries each first, "
                    f"{sizes.ops} ops of each kind per round"
                )
                roundtrip = measure_roundtrip(template, args.redis_url, prefix, args.rounds, sizes)
            if "paraphrase" in parts:
                print(
                    f"\n4. paraphrase set (tests/data/{PARAPHRASES.name}), threshold "
                    f"{THRESHOLD}, mock embeddings in process"
                )
                measure_paraphrases(template, embed_url)
    finally:
        if shared:
            print(f"\nRedis keys deleted under {prefix}: {delete_prefix(args.redis_url, prefix)}")
    print(f"run took {time.perf_counter() - started:.0f} s")
    title = (
        f"Response cache: chat answers after {args.chat_latency:g} s, embeddings after "
        f"{args.embed_latency:g} s; {args.rounds} rounds"
    )
    charts.write(args, title, chart_panels(latency, roundtrip))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
