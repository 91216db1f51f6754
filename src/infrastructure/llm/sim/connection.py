"""One client connection: frames requests off the socket and hands them to the app in order."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Coroutine
from typing import Any, cast

from infrastructure.llm.sim.http11 import HttpParseError, HttpRequest, render_response, take_request
from infrastructure.llm.sim.payloads import error_body

Handler = Callable[[HttpRequest, "Connection"], Coroutine[Any, Any, None] | None]
"""Answers one request: writes it at once and returns None, or returns a coroutine to await."""


class Connection(asyncio.Protocol):
    """An HTTP/1.1 keep-alive connection; also the channel the app writes its answer to.

    Requests are served one at a time in arrival order. A handler that returns a coroutine
    (delays, hangs, paced streams) holds the connection until it finishes.
    """

    def __init__(self, handler: Handler, registry: set[Connection]) -> None:
        self._handler = handler
        self._registry = registry
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._closed: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._busy: asyncio.Task[None] | None = None

    # asyncio.Protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection and turn off Nagle so small writes leave at once."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._closed = asyncio.get_running_loop().create_future()
        self._registry.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        """Buffer bytes; serve complete requests unless one is already being answered."""
        self._buffer += data
        if self._busy is None:
            self._serve_buffered()

    def connection_lost(self, exc: Exception | None) -> None:
        """Wake everything waiting on this connection."""
        self._registry.discard(self)
        for waiter in (self._closed, self._writable):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        """The transport buffer is full: `drain` waits until it empties."""
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        """The transport buffer drained."""
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # the channel the app writes to

    @property
    def is_open(self) -> bool:
        """Whether the client is still connected."""
        return self._closed is not None and not self._closed.done()

    def write(self, data: bytes) -> None:
        """Queue bytes for the client (dropped silently once the connection is gone)."""
        if self._transport is not None and self.is_open:
            self._transport.write(data)

    async def drain(self) -> None:
        """Wait until the client has taken what was written (or went away)."""
        if self._writable is not None:
            await asyncio.shield(self._writable)

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`, waking early if the client leaves; True if it is still connected."""
        if seconds > 0 and self._closed is not None:
            await asyncio.wait({self._closed}, timeout=seconds)
        return self.is_open

    async def wait_for(self, future: asyncio.Future[None]) -> bool:
        """Wait until `future` is done or the client leaves; True if it is still connected."""
        if self._closed is not None:
            await asyncio.wait({self._closed, future}, return_when=asyncio.FIRST_COMPLETED)
        return self.is_open

    async def wait_closed(self) -> None:
        """Wait until the client closes the connection."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    def close(self) -> None:
        """Flush what was written, then close."""
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, discarding anything unsent."""
        if self._transport is not None:
            self._transport.abort()

    def shutdown(self) -> None:
        """Server is stopping or refusing: stop the running answer and drop the connection."""
        if self._busy is not None:
            self._busy.cancel()
        self.abort()

    # internals

    def _serve_buffered(self) -> None:
        """Answer every complete request in the buffer, stopping at the first asynchronous one."""
        while self.is_open:
            try:
                request = take_request(self._buffer)
            except HttpParseError as error:
                body = error_body(str(error), "invalid_request_error")
                self.write(render_response(error.status, body, keep_alive=False))
                self.close()
                return
            if request is None:
                return
            pending = self._handler(request, self)
            if pending is not None:
                self._busy = asyncio.get_running_loop().create_task(
                    self._finish(pending, request.keep_alive)
                )
                return
            if not request.keep_alive:
                self.close()
                return

    async def _finish(self, pending: Coroutine[Any, Any, None], keep_alive: bool) -> None:
        """Await an asynchronous answer, then go on with the next buffered request."""
        try:
            await pending
        finally:
            self._busy = None
        if not keep_alive:
            self.close()
        else:
            self._serve_buffered()
