"""`RedisCacheStore`: cached answers in Redis, shared by every process given the same server,
key prefix and namespace, for exact and semantic lookups alike.

Keys, all under `<key_prefix>cache:<namespace>:` (a `%` or `:` in the namespace is written
`%25`, `%3A`, so one namespace's keys never match another's pattern):

* `e:<exact key>`: the encoded answer, expiring after its time to live (SET ... PX).
* `v:<exact key>`: in a semantic store, the entry's vector (normalised float32,
  little-endian), with the same time to live.
* `log`: a stream announcing each vector put, `k` (the exact key) and `c` (its context),
  trimmed to about `index_capacity` entries (XADD ... MAXLEN ~).

Redis 7 without a search module cannot search vectors, so each process searches its own
`VectorIndex` (at most `index_capacity` vectors, oldest out first) kept in step with the
stream. A put writes the entry, its vector and the announcement in one pipeline. Every read of
a semantic store pipelines, beside its GET, an XREAD of the announcements this process has not
seen (non-blocking, at most `SYNC_BATCH`) and an XLEN; `nearest` then loads the vectors
announced and not yet held (MGET, at most `SYNC_BATCH`) together with a further XREAD, and
searches in process. A process that starts late or fell behind (the stream trimmed past what
it read) reads what the stream still holds: the newest announcements, which are all its
index would keep. An empty stream means the namespace was cleared (or Redis lost its data):
the index is emptied too. A neighbour whose entry expired reads as missing, and the lookup
deletes it, which drops it from the index.

How it scales, per namespace:

* Memory per process: `index_capacity` x dimensions x 4 bytes (10,000 vectors of 1,536
  dimensions: 61 MB), plus the key and context of each.
* Per lookup: one round trip for the exact read (GET + XREAD + XLEN); a semantic lookup adds
  one for `nearest` (MGET + XREAD + XLEN; a second MGET only when entries were announced
  since the exact read, or more than `SYNC_BATCH` wait), then one GET per candidate read.
  The search is one matrix product over the context's vectors in this process; Redis does
  no search work, and a put is one round trip (SET, SET, XADD).
* Beyond `index_capacity`: each process indexes the newest `index_capacity` vectors only;
  older entries are still read exactly until they expire, but no longer found as neighbours.
  A process catching up loads at most 2 x `SYNC_BATCH` vectors per lookup (10,000: about 20
  lookups), so its first lookups may miss.
* In Redis: each entry and its vector, and a stream of about `index_capacity` small
  announcements.

Redis trouble never fails a call: an error, or no answer within `op_timeout`, reads as a
miss (get None, nearest [], put and delete do nothing); the first says so once and Redis is
tried again in the background until it answers (`Outage`), and calls never wait meanwhile.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Generator, Sequence
from typing import Any, TypeVar

from infrastructure.llm.cache.store import Neighbour
from infrastructure.llm.cache.vector_index import VectorIndex, normalised
from infrastructure.llm.redaction import public_url
from infrastructure.llm.resilience.redis.connection import (
    REDIS_ERRORS,
    LoopClients,
    require_redis,
    sync_client,
)
from infrastructure.llm.resilience.redis.keys import glob_escape
from infrastructure.llm.resilience.redis.outage import Outage

try:
    import numpy as np
except ImportError:  # without the `semantic` extra: exact lookups only
    np = None  # type: ignore[assignment]

T = TypeVar("T")

Command = tuple[Any, ...]
"""A Redis command and its arguments, as sent."""

Steps = Generator[list[Command], list[Any] | None, T]
"""An operation: it yields the commands to send in one pipeline and receives their replies,
or None when Redis did not answer."""

SYNC_BATCH = 256
"""Announcements read, and vectors loaded, per round trip."""

_SCAN_COUNT = 500
_ORIGIN = (0, 0)
_VECTOR_DTYPE = "<f4"


def _namespace_part(namespace: str) -> str:
    """`namespace` with `%` and `:` escaped, so it ends where the next `:` is."""
    return namespace.replace("%", "%25").replace(":", "%3A")


def _stream_id(raw: bytes) -> tuple[int, int]:
    milliseconds, _, sequence = raw.partition(b"-")
    return int(milliseconds), int(sequence or 0)


def _vector(blob: bytes | None) -> Any:
    """The float32 vector stored in `blob`; None for a missing or malformed one."""
    if not blob or len(blob) % 4:
        return None
    return np.frombuffer(blob, dtype=_VECTOR_DTYPE)


class _LocalIndex:
    """This process's index of one namespace's vectors, and its place in the stream that
    announces them: what it has read, and the announced vectors not loaded yet (key to
    context, oldest first, at most `capacity`)."""

    def __init__(self, stream: str, capacity: int) -> None:
        self.vectors = VectorIndex(capacity)
        self._stream = stream
        self._capacity = capacity
        self._lock = threading.Lock()
        self._last = _ORIGIN
        self._pending: OrderedDict[str, str] = OrderedDict()

    def read_commands(self) -> list[Command]:
        """Read the announcements after the last one seen, and the stream's length."""
        with self._lock:
            milliseconds, sequence = self._last
        last = f"{milliseconds}-{sequence}"
        return [
            ("XREAD", "COUNT", SYNC_BATCH, "STREAMS", self._stream, last),
            ("XLEN", self._stream),
        ]

    def absorb(self, streams: list[Any], length: int) -> None:
        """Take in the replies to `read_commands`."""
        with self._lock:
            if not length:
                self._reset()
                return
            entries = streams[0][1] if streams else []
            for _, fields in entries:
                key = fields.get(b"k", b"").decode(errors="replace")
                context = fields.get(b"c", b"").decode(errors="replace")
                if key and context and key not in self.vectors:
                    self._pending[key] = context
                    self._pending.move_to_end(key)
            while len(self._pending) > self._capacity:
                self._pending.popitem(last=False)
            if entries:
                self._last = max(self._last, _stream_id(entries[-1][0]))

    def to_load(self) -> list[tuple[str, str]]:
        """The oldest announced vectors not loaded yet (key, context), at most SYNC_BATCH."""
        with self._lock:
            return list(itertools.islice(self._pending.items(), SYNC_BATCH))

    def load(self, wanted: list[tuple[str, str]], blobs: list[bytes | None]) -> None:
        """Index the vectors `wanted` that are still pending; a missing one has expired."""
        with self._lock:
            for (key, context), blob in zip(wanted, blobs, strict=True):
                vector = _vector(blob)
                if self._pending.pop(key, None) is not None and vector is not None:
                    self.vectors.add(context, key, vector)

    def forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)
        self.vectors.remove(key)

    def reset(self) -> None:
        """Forget everything: the namespace is empty."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._pending.clear()
        self._last = _ORIGIN
        self.vectors.clear()


class RedisCacheStore:
    """`CacheStore` in Redis: every process given the same server, `key_prefix` and
    `namespace` shares its entries and, when `semantic`, finds them as neighbours.

    `op_timeout` bounds every operation; `index_capacity` is how many vectors each process
    indexes. Call `close()` when done (it stops the background reconnection).
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str,
        namespace: str,
        index_capacity: int,
        op_timeout: float = 0.25,
        semantic: bool = False,
    ) -> None:
        require_redis()
        if op_timeout <= 0 or index_capacity < 1:
            raise ValueError(
                f"RedisCacheStore needs op_timeout > 0 and index_capacity >= 1 "
                f"(got {op_timeout}, {index_capacity})"
            )
        self.where = public_url(url)
        self.namespace = namespace
        self._base = f"{key_prefix}cache:{_namespace_part(namespace)}:"
        self._entries = f"{self._base}e:"
        self._vectors = f"{self._base}v:"
        self._stream = f"{self._base}log"
        self._capacity = index_capacity
        self._local = _LocalIndex(self._stream, index_capacity) if semantic else None
        self._client = sync_client(url, op_timeout)
        self._loops = LoopClients(url, op_timeout)
        self._outage = Outage(
            self.where,
            self._client.ping,
            REDIS_ERRORS,
            meanwhile=f"response cache {namespace!r}: every lookup is a miss",
        )
        try:
            self._client.ping()
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)

    def __repr__(self) -> str:
        return f"RedisCacheStore({self.where}, namespace={self.namespace!r})"

    # -- the protocol ------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        return self._run(self._get(key))

    def put(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None:
        self._run(self._put(key, data, ttl, context, vector))

    def delete(self, key: str) -> None:
        self._run(self._delete(key))

    def nearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]:
        return self._run(self._nearest(context, vector, threshold, limit))

    async def aget(self, key: str) -> bytes | None:
        return await self._arun(self._get(key))

    async def aput(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> None:
        await self._arun(self._put(key, data, ttl, context, vector))

    async def adelete(self, key: str) -> None:
        await self._arun(self._delete(key))

    async def anearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> list[Neighbour]:
        return await self._arun(self._nearest(context, vector, threshold, limit))

    def count(self) -> int:
        """Entries held now in Redis under this namespace (0 while Redis is out of reach)."""
        if not self._outage.shared:
            return 0
        pattern = f"{glob_escape(self._entries)}*"
        try:
            return len(set(self._client.scan_iter(match=pattern, count=_SCAN_COUNT)))
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return 0

    def clear(self) -> int:
        """Delete this namespace's keys (other processes empty their index when they next
        read); returns how many entries there were (0 while Redis is out of reach)."""
        if self._local is not None:
            self._local.reset()
        if not self._outage.shared:
            return 0
        try:
            entries = self._unlink_matching(self._entries)
            self._unlink_matching(self._base)
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return 0
        return entries

    def close(self) -> None:
        """Stop the background reconnection and close the sync client; each event loop's
        client closes with its loop."""
        self._outage.close()
        self._client.close()

    # -- the operations, as steps ------------------------------------------------------------

    def _get(self, key: str) -> Steps[bytes | None]:
        local = self._local
        commands: list[Command] = [("GET", self._entries + key)]
        if local is not None:
            commands += local.read_commands()
        replies = yield commands
        if replies is None:
            return None
        if local is not None:
            local.absorb(*replies[1:])
        return replies[0]

    def _put(
        self, key: str, data: bytes, ttl: float, context: str, vector: Sequence[float] | None
    ) -> Steps[None]:
        if ttl <= 0:
            return
        local = self._local
        ttl_ms = max(1, round(ttl * 1000))
        commands: list[Command] = [("SET", self._entries + key, data, "PX", ttl_ms)]
        row = normalised(vector) if local is not None and vector is not None else None
        if row is not None:
            blob = row.astype(_VECTOR_DTYPE, copy=False).tobytes()
            commands += [
                ("SET", self._vectors + key, blob, "PX", ttl_ms),
                ("XADD", self._stream, "MAXLEN", "~", self._capacity, "*", "k", key, "c", context),
            ]
        replies = yield commands
        if replies is not None and local is not None and row is not None:
            local.vectors.add(context, key, row)

    def _delete(self, key: str) -> Steps[None]:
        if self._local is not None:
            self._local.forget(key)
        yield [("UNLINK", self._entries + key, self._vectors + key)]

    def _nearest(
        self, context: str, vector: Sequence[float], threshold: float, limit: int
    ) -> Steps[list[Neighbour]]:
        local = self._local
        if local is None:
            return []
        wanted = local.to_load()
        commands = [self._load_command(wanted)] if wanted else []
        replies = yield commands + local.read_commands()
        if replies is None:
            return []
        if wanted:
            local.load(wanted, replies[0])
        local.absorb(*replies[-2:])
        wanted = local.to_load()
        if wanted:
            replies = yield [self._load_command(wanted)]
            if replies is None:
                return []
            local.load(wanted, replies[0])
        return local.vectors.nearest(context, vector, threshold, limit)

    def _load_command(self, wanted: list[tuple[str, str]]) -> Command:
        return ("MGET", *(self._vectors + key for key, _ in wanted))

    # -- carrying the steps out ----------------------------------------------------------------

    def _run(self, steps: Steps[T]) -> T:
        replies: list[Any] | None = None
        while True:
            try:
                commands = steps.send(replies)
            except StopIteration as done:
                return done.value
            replies = self._execute(commands)

    async def _arun(self, steps: Steps[T]) -> T:
        replies: list[Any] | None = None
        while True:
            try:
                commands = steps.send(replies)
            except StopIteration as done:
                return done.value
            replies = await self._aexecute(commands)

    def _execute(self, commands: list[Command]) -> list[Any] | None:
        """The replies to `commands`, sent in one pipeline; None when Redis did not answer."""
        if not self._outage.shared:
            return None
        try:
            return _pipeline(self._client, commands).execute()
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return None

    async def _aexecute(self, commands: list[Command]) -> list[Any] | None:
        """`_execute` on the running loop's client."""
        if not self._outage.shared:
            return None
        client = self._loops.client()
        try:
            return await _pipeline(client, commands).execute()
        except REDIS_ERRORS as exc:
            self._outage.lost(exc)
            return None

    def _unlink_matching(self, prefix: str) -> int:
        """Delete every key that starts with `prefix`; returns how many went."""
        deleted = 0
        batch: list[bytes] = []
        for name in self._client.scan_iter(match=f"{glob_escape(prefix)}*", count=_SCAN_COUNT):
            batch.append(name)
            if len(batch) == _SCAN_COUNT:
                deleted += self._client.unlink(*batch)
                batch = []
        if batch:
            deleted += self._client.unlink(*batch)
        return deleted


def _pipeline(client: Any, commands: list[Command]) -> Any:
    """A pipeline of `client` (sync or async) with `commands` queued, not sent."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe
