"""Clients of one Redis server: a sync one for the process's threads, and an async one for
each event loop, closed when its loop shuts down (so `asyncio.run` may be called again and
again). Neither retries: an operation that fails or takes longer than `op_timeout` fails at
once, and the state goes on locally.

`redis` is an optional dependency (the `redis` extra); this module imports without it, and
`require_redis` says what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

from infrastructure.llm.resilience.redis import scripts

try:
    import redis
    import redis.asyncio
    import redis.asyncio.retry
    import redis.retry
    from redis.backoff import NoBackoff
    from redis.exceptions import WatchError
except ImportError:  # the `redis` extra is not installed
    redis = None  # type: ignore[assignment]
    WatchError = None  # type: ignore[assignment, misc]

if redis is not None:
    REDIS_ERRORS: tuple[type[BaseException], ...] = (
        redis.RedisError,
        OSError,
        TimeoutError,
        asyncio.TimeoutError,
    )
else:
    REDIS_ERRORS = (OSError, TimeoutError, asyncio.TimeoutError)
"""What Redis trouble raises: the client's errors, socket errors and timeouts."""


def require_redis() -> None:
    """Raise ImportError naming the extra when the `redis` client is not installed."""
    if redis is None:
        raise ImportError(
            "the Redis shared state needs the redis client: "
            "pip install 'langchain-llm-wrappers[redis]'"
        )


def sync_client(url: str, op_timeout: float) -> Any:
    """A thread-safe client of `url` whose every operation fails after `op_timeout` seconds."""
    return redis.Redis.from_url(
        url,
        socket_timeout=op_timeout,
        socket_connect_timeout=op_timeout,
        retry=redis.retry.Retry(NoBackoff(), 0),
    )


def async_client(url: str, op_timeout: float) -> Any:
    """An asyncio client of `url` for the running loop; fails after `op_timeout` seconds."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=op_timeout,
        socket_connect_timeout=op_timeout,
        retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
    )


class Scripts:
    """The shared state's Lua scripts registered on one client, sync or async (each call
    sends EVALSHA, and the script's source once when the server does not know it)."""

    def __init__(self, client: Any) -> None:
        self.admit = client.register_script(scripts.ADMIT)
        self.settle = client.register_script(scripts.SETTLE)
        self.renew = client.register_script(scripts.RENEW)
        self.in_flight = client.register_script(scripts.IN_FLIGHT)
        self.read_breaker = client.register_script(scripts.READ_BREAKER)
        self.record_health = client.register_script(scripts.RECORD_HEALTH)
        self.read_health = client.register_script(scripts.READ_HEALTH)


def check(client: Any) -> None:
    """One round trip that proves `client`'s server answers and knows every script."""
    pipe = client.pipeline(transaction=False)
    pipe.ping()
    for source in scripts.ALL.values():
        pipe.script_load(source)
    pipe.execute()


class _LoopClient:
    """The async client of one event loop and its scripts; closed with the loop, which then
    calls `forget` (the client holds the loop: whoever keeps it must let it go)."""

    def __init__(self, url: str, op_timeout: float, forget: Callable[[], object]) -> None:
        self.client = async_client(url, op_timeout)
        self.scripts = Scripts(self.client)
        self._forget = forget
        self._closer = self._close_with_loop()
        # Taking the closer's first step hands it to the running loop, which closes it (and
        # with it the client) when it shuts down its async generators.
        with contextlib.suppress(StopIteration):
            self._closer.asend(None).send(None)

    async def _close_with_loop(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._forget()
            await self.client.aclose()

    async def aclose(self) -> None:
        await self._closer.aclose()


class LoopClients:
    """One async client of `url` for each event loop that asks, created on first use and
    closed when its loop shuts down (or by `aclose`, for a loop closed by hand)."""

    def __init__(self, url: str, op_timeout: float) -> None:
        self._url = url
        self._op_timeout = op_timeout
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClient] = {}

    def scripts(self) -> Scripts:
        """The running loop's scripts. Call it from the loop's thread."""
        return self._current().scripts

    def client(self) -> Any:
        """The running loop's `redis.asyncio` client. Call it from the loop's thread."""
        return self._current().client

    def _current(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        current = self._loops.get(loop)
        if current is None:
            forget = functools.partial(self._loops.pop, loop, None)
            current = self._loops[loop] = _LoopClient(self._url, self._op_timeout, forget)
        return current

    async def aclose(self) -> None:
        """Close the running loop's client now (a loop about to close without the shutdown
        `asyncio.run` does)."""
        current = self._loops.get(asyncio.get_running_loop())
        if current is not None:
            await current.aclose()
