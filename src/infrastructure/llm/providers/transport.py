"""The HTTP clients this package owns for OpenAI-compatible instances.

* One sync client per process, shared by every instance (connections are pooled per host;
  one TLS context instead of one per instance). Its transport holds each request to the
  current attempt's limit, body included: a watchdog thread shuts the socket of a response
  whose attempt has not ended when its limit passes, so a server that drips its body cannot
  hold a call past its deadline.
* One async client per event loop and transport: aiohttp's (the default, about twice the
  calls a second of httpx's at 100 in flight) or httpx's, as each model's `async_transport`
  says. They are closed when their loop shuts down (`asyncio.run` closes async generators
  before it closes the loop, and each loop's clients are closed from one), so scripts and
  Celery tasks may call `asyncio.run` again and again. Async attempts are held to their limit
  by the driver (`asyncio.timeout`).
* Both transports note on the current `AttemptLimit` whether the server answered 2xx.

Re-created after `fork()`: a worker forked from a parent that used the sync client starts
with none (sockets and the watchdog thread do not survive a fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
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


# -- sync ----------------------------------------------------------------------------------


class Watchdog:
    """A daemon thread that shuts the sockets of responses whose attempt ran out of time.

    The thread sleeps until the earliest limit among the responses it watches; then it
    forgets the attempts that ended, shuts the sockets of those past their limit, and sleeps
    until the next one. Watching costs a request a dict entry, and a wake-up only when its
    limit comes before the thread's next one (so a steady stream of calls with the same
    timeout wakes the thread once a timeout, not once a call). Entries of ended attempts are
    also dropped when watching, once they outnumber the rest, so the dict stays small.
    """

    _KEEP = 64
    """Entries kept before `watch` drops those of ended attempts."""

    def __init__(self) -> None:
        self._active: dict[AttemptLimit, Any] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._wake_at = math.inf
        self._prune_at = self._KEEP
        self._thread: threading.Thread | None = None

    def watch(self, limit: AttemptLimit, stream: Any) -> None:
        """Shut `stream`'s socket if `limit` passes before the attempt ends."""
        with self._lock:
            active = self._active
            active[limit] = stream
            if len(active) > self._prune_at:
                for ended in [known for known in active if known.ended]:
                    del active[ended]
                self._prune_at = max(self._KEEP, 2 * len(active))
            if limit.until < self._wake_at:
                self._wake_at = limit.until
                self._wake.set()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="llm-wrappers-watchdog", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        sleep: float | None = None
        while True:
            self._wake.wait(sleep)
            with self._lock:
                self._wake.clear()
                now = time.monotonic()
                due = []
                earliest = math.inf
                for limit, stream in list(self._active.items()):
                    if limit.ended:
                        del self._active[limit]
                    elif limit.until <= now:
                        del self._active[limit]
                        due.append((limit, stream))
                    else:
                        earliest = min(earliest, limit.until)
                self._wake_at = earliest
            for limit, stream in due:
                self._cut(limit, stream)
            sleep = None if earliest == math.inf else earliest - now

    @staticmethod
    def _cut(limit: AttemptLimit, stream: Any) -> None:
        """End the response: a blocked read returns at once and the request fails."""
        limit.cut = True
        sock = stream.get_extra_info("socket")
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


_LEAST_WAIT = 0.001
"""The socket timeout of a request whose attempt has no time left: fail at once."""


class LimitedTransport(httpx2.BaseTransport):
    """Holds each request to the current attempt's limit, and notes 2xx answers on it."""

    def __init__(self, inner: httpx2.BaseTransport, watchdog: Watchdog) -> None:
        self._inner = inner
        self._watchdog = watchdog

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        limit = CURRENT_ATTEMPT.get()
        if limit is None:
            return self._inner.handle_request(request)
        # Until the headers arrive, each connect, write and read waits at most what is left.
        left = max(limit.until - time.monotonic(), _LEAST_WAIT)
        request.extensions["timeout"] = {"connect": left, "read": left, "write": left, "pool": left}
        response = self._inner.handle_request(request)
        if 200 <= response.status_code < 300:
            limit.answered = True
        stream = response.extensions.get("network_stream")
        if stream is not None:
            self._watchdog.watch(limit, stream)
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
        limit = CURRENT_ATTEMPT.get()
        if limit is not None and 200 <= response.status_code < 300:
            limit.answered = True
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


def _async_transport(name: str) -> httpx2.AsyncBaseTransport:
    """The transport called `name`: "aiohttp" (httpx's own when aiohttp is not installed) or
    "httpx"."""
    if name == "aiohttp":
        try:
            from openai._vendor.httpx_aiohttp import AiohttpTransport
        except ImportError:  # aiohttp not installed: httpx's own transport
            pass
        else:
            return AiohttpTransport(limits=_LIMITS)
    elif name != "httpx":
        raise ValueError(f"unknown async transport {name!r}; expected 'aiohttp' or 'httpx'")
    return httpx2.AsyncHTTPTransport(limits=_LIMITS)


class LoopClients:
    """What one event loop owns: its async HTTP clients and the objects built on them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._clients: dict[str, httpx2.AsyncClient] = {}
        self.models: dict[object, Any] = {}
        """Objects built on the clients (an instance's chat model), by their owner."""
        self._closer = self._close_with_loop()

    @property
    def clients(self) -> dict[str, httpx2.AsyncClient]:
        """The clients opened so far, by transport name."""
        return dict(self._clients)

    def client(self, transport: str = "aiohttp") -> httpx2.AsyncClient:
        """This loop's client over `transport`, created on first use."""
        client = self._clients.get(transport)
        if client is None:
            client = self._clients[transport] = httpx2.AsyncClient(
                transport=_NotingAsyncTransport(_async_transport(transport)),
                timeout=_DEFAULT_TIMEOUT,
                follow_redirects=True,
            )
        return client

    async def _close_with_loop(self) -> AsyncIterator[None]:
        """Suspended from the start; the loop closes it at shutdown, closing the clients and
        letting go of the loop."""
        try:
            yield
        finally:
            _loops.pop(self._loop, None)
            self.models.clear()
            for client in self._clients.values():
                await client.aclose()

    def arm(self) -> None:
        """Start the closer on the running loop, which registers it for closing at shutdown.

        `asend(None)` is what hands a new async generator to the loop; its first step has
        nothing to await, so it is taken here at once.
        """
        with contextlib.suppress(StopIteration):
            self._closer.asend(None).send(None)

    async def aclose(self) -> None:
        await self._closer.aclose()


# Each loop's clients, until the loop shuts down. A plain dict: the clients hold their loop
# (through the closer's finalizer), so weak keys would never be freed.
_loops: dict[asyncio.AbstractEventLoop, LoopClients] = {}


def loop_clients() -> LoopClients:
    """The running loop's clients, created on first use. Call it from the loop's thread."""
    loop = asyncio.get_running_loop()
    clients = _loops.get(loop)
    if clients is None:
        clients = _loops[loop] = LoopClients(loop)
        clients.arm()
    return clients


async def aclose_loop_clients() -> None:
    """Close the running loop's clients now (a long-lived loop that is about to be closed
    without `asyncio.run`'s shutdown)."""
    clients = _loops.pop(asyncio.get_running_loop(), None)
    if clients is not None:
        await clients.aclose()
