"""The HTTP clients this package owns for OpenAI-compatible instances.

* One sync client per process, shared by every instance (connections are pooled per host;
  one TLS context instead of one per instance). Its transport holds each request to the
  current attempt's limit, body included: a watchdog thread shuts the socket of a response
  whose limit passed, so a server that drips its body cannot hold a call past its deadline.
* One async client per event loop, aiohttp's transport when `aiohttp` is installed (about twice
  the calls a second of httpx's at 100 in flight), else httpx's. It is closed when its loop
  shuts down (`asyncio.run` closes async generators before it closes the loop, and each
  loop's clients are closed from one), so scripts and Celery tasks may call `asyncio.run`
  again and again. Async attempts are held to their limit by the driver (`asyncio.timeout`).
* Both transports note on the current `AttemptLimit` whether the server answered 2xx.

Re-created after `fork()`: a worker forked from a parent that used the sync client starts
with none (sockets and the watchdog thread do not survive a fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from infrastructure.llm.resilience.time_limits import CURRENT_ATTEMPT, AttemptLimit

logger = logging.getLogger(__name__)

# Connections are pooled across every instance of the fleet: no cap of the pool's own (the
# routing's concurrency limits decide), idle ones kept 5 s (uvicorn, vLLM's server, closes
# idle connections after 5 s; reusing one the server just closed would fail a call).
_LIMITS = httpx2.Limits(max_connections=None, max_keepalive_connections=1000, keepalive_expiry=5)
# The SDK's per-request timeout is the attempt's; this only covers calls made without one.
_DEFAULT_TIMEOUT = httpx2.Timeout(600.0, connect=5.0)


def _answered(limit: AttemptLimit | None, response: httpx2.Response) -> None:
    if limit is not None and 200 <= response.status_code < 300:
        limit.answered = True


# -- sync ----------------------------------------------------------------------------------


class _Watch:
    """One response's socket, to shut when its attempt's limit passes."""

    __slots__ = ("done", "limit", "stream")

    def __init__(self, limit: AttemptLimit, stream: Any) -> None:
        self.limit = limit
        self.stream = stream
        self.done = False


class Watchdog:
    """A daemon thread that shuts the sockets of responses whose attempt ran out of time.

    Watches wait in a heap ordered by limit; the thread sleeps until the earliest, and is
    woken only when a new watch ends earlier than every other. A limit extended meanwhile is
    put back with its new end.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, limit: AttemptLimit, stream: Any) -> _Watch:
        entry = _Watch(limit, stream)
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (limit.until, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llm-wrappers-watchdog", daemon=True
                )
                self._thread.start()
            elif earliest is None or limit.until < earliest:
                self._wake.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                until, _, entry = self._heap[0]
                pause = until - time.monotonic()
                if pause > 0:
                    self._wake.wait(pause)
                    continue
                heapq.heappop(self._heap)
                if entry.done:
                    continue
                if entry.limit.until > until:  # extended: watch on until its new end
                    heapq.heappush(self._heap, (entry.limit.until, next(self._order), entry))
                    continue
            self._cut(entry)

    @staticmethod
    def _cut(entry: _Watch) -> None:
        """End the response: a blocked read returns at once and the request fails."""
        entry.limit.cut = True
        stream = entry.stream
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _WatchedStream(httpx2.SyncByteStream):
    """A response body whose watch ends when the body is read or closed."""

    def __init__(self, inner: httpx2.SyncByteStream, watch: _Watch) -> None:
        self._inner = inner
        self._watch = watch

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        self._watch.done = True
        self._watch.stream = None
        self._inner.close()


class LimitedTransport(httpx2.BaseTransport):
    """Holds each request to the current attempt's limit, and notes 2xx answers on it."""

    def __init__(self, inner: httpx2.BaseTransport, watchdog: Watchdog) -> None:
        self._inner = inner
        self._watchdog = watchdog

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        limit = CURRENT_ATTEMPT.get()
        response = self._inner.handle_request(request)
        if limit is None:
            return response
        _answered(limit, response)
        stream = response.extensions.get("network_stream")
        if stream is not None:
            watch = self._watchdog.watch(limit, stream)
            response.stream = _WatchedStream(response.stream, watch)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self._inner.close()


_sync_lock = threading.Lock()
_sync_client: httpx2.Client | None = None


def sync_client() -> httpx2.Client:
    """The process's sync HTTP client, created on first use."""
    global _sync_client
    client = _sync_client
    if client is None:
        with _sync_lock:
            client = _sync_client
            if client is None:
                transport = LimitedTransport(httpx2.HTTPTransport(limits=_LIMITS), Watchdog())
                client = httpx2.Client(
                    transport=transport, timeout=_DEFAULT_TIMEOUT, follow_redirects=True
                )
                _sync_client = client
    return client


_unbound: httpx2.AsyncClient | None = None


def unbound_client() -> httpx2.AsyncClient:
    """An async client bound to no loop, for building models whose async calls go through
    `loop_clients()` instead; it sends nothing. Created once (one TLS context)."""
    global _unbound
    with _sync_lock:
        if _unbound is None:
            _unbound = httpx2.AsyncClient()
        return _unbound


def _forget_after_fork() -> None:
    global _sync_client, _sync_lock
    _sync_client = None
    _sync_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


# -- async ---------------------------------------------------------------------------------


class _NotingAsyncTransport(httpx2.AsyncBaseTransport):
    """Notes 2xx answers on the current attempt's limit (the driver enforces the limit).

    aiohttp's transport reports a refused connection as a connect *timeout*; it is passed
    on as the connect error it is, so errors say what happened.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx2.ConnectTimeout as exc:
            refused = _refused_connection(exc.__cause__)
            if refused is None:
                raise
            raise httpx2.ConnectError(str(refused), request=request) from refused
        _answered(CURRENT_ATTEMPT.get(), response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _refused_connection(cause: BaseException | None) -> BaseException | None:
    """The aiohttp error behind a connect 'timeout' when it was no timeout, else None."""
    try:
        import aiohttp
    except ImportError:
        return None
    if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
        cause, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)
    ):
        return cause
    return None


def _async_transport() -> httpx2.AsyncBaseTransport:
    try:
        from openai._vendor.httpx_aiohttp import AiohttpTransport
    except ImportError:  # aiohttp not installed: httpx's own transport
        return httpx2.AsyncHTTPTransport(limits=_LIMITS)
    return AiohttpTransport(limits=_LIMITS)


class LoopClients:
    """What one event loop owns: its async HTTP client and the objects built on it."""

    def __init__(self) -> None:
        self.client = httpx2.AsyncClient(
            transport=_NotingAsyncTransport(_async_transport()),
            timeout=_DEFAULT_TIMEOUT,
            follow_redirects=True,
        )
        self.models: dict[object, Any] = {}
        """Objects built on `client` (an instance's chat model), by their owner."""
        self._closer = self._close_with_loop()

    async def _close_with_loop(self) -> AsyncIterator[None]:
        """Suspended from the start; the loop closes it at shutdown, closing the client."""
        try:
            yield
        finally:
            self.models.clear()
            await self.client.aclose()

    def arm(self) -> None:
        """Start the closer on the running loop, which registers it for closing at shutdown.

        `asend(None)` is what hands a new async generator to the loop; its first step has
        nothing to await, so it is taken here at once.
        """
        with contextlib.suppress(StopIteration):
            self._closer.asend(None).send(None)

    async def aclose(self) -> None:
        await self._closer.aclose()


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients] = (
    weakref.WeakKeyDictionary()
)


def loop_clients() -> LoopClients:
    """The running loop's clients, created on first use. Call it from the loop's thread."""
    loop = asyncio.get_running_loop()
    clients = _loops.get(loop)
    if clients is None:
        clients = _loops[loop] = LoopClients()
        clients.arm()
    return clients


async def aclose_loop_clients() -> None:
    """Close the running loop's clients now (a long-lived loop that is about to be closed
    without `asyncio.run`'s shutdown)."""
    clients = _loops.pop(asyncio.get_running_loop(), None)
    if clients is not None:
        await clients.aclose()
