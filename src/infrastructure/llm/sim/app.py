"""Routes requests to the simulated endpoints and applies the current fault to each answer."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Coroutine
from typing import Any, Literal

from infrastructure.llm.sim.connection import Connection
from infrastructure.llm.sim.faults import FaultMode
from infrastructure.llm.sim.http11 import (
    LAST_CHUNK,
    HttpRequest,
    render_chunk,
    render_response,
    render_stream_head,
)
from infrastructure.llm.sim.payloads import (
    HEALTHY_BODY,
    completion_body,
    error_body,
    models_body,
    stream_events,
)
from infrastructure.llm.sim.planning import CompletionPlan, RequestError, plan_completion
from infrastructure.llm.sim.stats import StatsRecorder

Endpoint = Literal["chat", "models", "health"]
Pending = Coroutine[Any, Any, None] | None

_ROUTES: tuple[tuple[str, Endpoint, str], ...] = (
    ("/chat/completions", "chat", "POST"),
    ("/models", "models", "GET"),
    ("/health", "health", "GET"),
)


class SimApp:
    """The simulated OpenAI endpoints. Runs on the server's loop thread only.

    Paths match by suffix, so `/v1/chat/completions`, `/chat/completions` and
    `/<anything>/v1/chat/completions` all work: one server can stand in for many instances.

    Health and model-list requests follow the fault too (hang, refuse, latency, error rate)
    so health checks notice a bad instance; 429s and cut connections only hit completions.
    Outcomes are counted before the answer is written, so a client holding its answer
    already sees the matching counter.
    """

    def __init__(self, stats: StatsRecorder, model_name: str, reply: str | None) -> None:
        self._stats = stats
        self._model_name = model_name
        self._reply = reply
        self._sequence = itertools.count(1)
        self._fault = FaultMode()
        self._chat_rng = random.Random()
        self._probe_rng = random.Random()

    def set_fault(self, fault: FaultMode) -> None:
        """Apply `fault` to requests arriving from now on; a seed restarts the RNGs.

        Completions and probes (health, models) draw from separate RNGs, so background
        health checks never shift which seeded completions fail.
        """
        self._fault = fault
        self._chat_rng = random.Random(fault.seed)
        self._probe_rng = random.Random(fault.seed)

    def __call__(self, request: HttpRequest, conn: Connection) -> Pending:
        """Answer one request now, or return the coroutine that will."""
        fault = self._fault
        if fault.mode == "refuse":
            conn.abort()
            return None
        route = _route(request.path)
        if route is None or route[1] != request.method:
            status = 404 if route is None else 405
            message = f"no route for {request.method} {request.path}"
            conn.write(_json(request, status, error_body(message, "invalid_request_error")))
            return None
        endpoint = route[0]
        if endpoint == "chat":
            self._stats.received()
        if fault.mode == "hang":
            return self._hang(conn, endpoint)
        delay = fault.draw_delay(self._chat_rng if endpoint == "chat" else self._probe_rng)
        if delay > 0:
            return self._after(delay, request, conn, endpoint, fault)
        return self._answer(request, conn, endpoint, fault)

    async def _hang(self, conn: Connection, endpoint: Endpoint) -> None:
        """Never answer; a completion whose client gives up counts as cancelled."""
        await conn.wait_closed()
        if endpoint == "chat":
            self._stats.finished("cancelled")

    async def _after(
        self,
        delay: float,
        request: HttpRequest,
        conn: Connection,
        endpoint: Endpoint,
        fault: FaultMode,
    ) -> None:
        """Answer after `delay` seconds unless the client leaves first."""
        if not await conn.pause(delay):
            if endpoint == "chat":
                self._stats.finished("cancelled")
            return
        pending = self._answer(request, conn, endpoint, fault)
        if pending is not None:
            await pending

    def _answer(
        self, request: HttpRequest, conn: Connection, endpoint: Endpoint, fault: FaultMode
    ) -> Pending:
        """The answer proper, once any delay has passed."""
        if endpoint != "chat":
            if fault.mode == "error_rate" and fault.draw_failure(self._probe_rng):
                conn.write(_json(request, 500, _server_error()))
            elif endpoint == "health":
                conn.write(_json(request, 200, HEALTHY_BODY))
            else:
                conn.write(_json(request, 200, models_body([self._model_name], int(time.time()))))
            return None
        if fault.draw_failure(self._chat_rng):
            self._stats.finished("errors_sent")
            conn.write(_failure(request, fault))
            return None
        number = next(self._sequence)
        try:
            plan = plan_completion(
                json.loads(request.body),
                served_model=self._model_name,
                reply=self._reply,
                call_id=f"call_sim{number}",
            )
        except (ValueError, RequestError) as error:
            message = f"invalid JSON body: {error}" if isinstance(error, ValueError) else str(error)
            self._stats.finished("bad_requests")
            conn.write(_json(request, 400, error_body(message, "invalid_request_error")))
            return None
        completion_id = f"chatcmpl-sim{number}"
        if plan.stream:
            return self._stream(request, conn, plan, completion_id, fault)
        if fault.mode == "cut_stream":
            self._stats.finished("cut")
            conn.close()
            return None
        self._stats.finished("completed")
        conn.write(_json(request, 200, completion_body(plan, completion_id, int(time.time()))))
        return None

    def _stream(
        self,
        request: HttpRequest,
        conn: Connection,
        plan: CompletionPlan,
        completion_id: str,
        fault: FaultMode,
    ) -> Pending:
        """Send the SSE stream at once, or paced by `chunk_delay`; cut_stream stops early."""
        events = stream_events(plan, completion_id, int(time.time()))
        cut = fault.mode == "cut_stream"
        if cut:
            frames = [render_chunk(e) for e in events.chunks[: fault.cut_after]]
        else:
            frames = [render_chunk(e) for e in events.chunks + events.tail]
            frames[-1] += LAST_CHUNK
        head = render_stream_head(keep_alive=request.keep_alive)
        if fault.chunk_delay == 0:
            self._end_stream(conn, cut, head + b"".join(frames))
            return None
        return self._paced(conn, head, frames, fault.chunk_delay, cut)

    async def _paced(
        self, conn: Connection, head: bytes, frames: list[bytes], delay: float, cut: bool
    ) -> None:
        """Write frames with a pause after each; a client that leaves cancels the stream."""
        conn.write(head)
        for frame in frames[:-1]:
            conn.write(frame)
            await conn.drain()
            if not await conn.pause(delay):
                self._stats.finished("cancelled")
                return
        self._end_stream(conn, cut, frames[-1] if frames else b"")

    def _end_stream(self, conn: Connection, cut: bool, data: bytes) -> None:
        """Count the stream, then write its last bytes; a cut one then drops the connection."""
        self._stats.finished("cut" if cut else "completed")
        conn.write(data)
        if cut:
            conn.close()


def _route(path: str) -> tuple[Endpoint, str] | None:
    """Endpoint and method for a path; any prefix is accepted (`/v1`, `/instance-7/v1`, none)."""
    path = path.rstrip("/")
    for suffix, endpoint, method in _ROUTES:
        if path.endswith(suffix):
            return endpoint, method
    return None


def _json(request: HttpRequest, status: int, body: bytes) -> bytes:
    """A JSON response honouring the request's keep-alive wish."""
    return render_response(status, body, keep_alive=request.keep_alive)


def _server_error() -> bytes:
    """The body of a simulated 500."""
    return error_body("simulated server error", "server_error")


def _failure(request: HttpRequest, fault: FaultMode) -> bytes:
    """The fault's error response: 429 with Retry-After in rate_limit mode, else 500."""
    if fault.mode == "rate_limit":
        body = error_body("simulated rate limit; retry later", "rate_limit_error")
        retry = [("Retry-After", f"{fault.retry_after:g}")]
        return render_response(429, body, keep_alive=request.keep_alive, headers=retry)
    return _json(request, 500, _server_error())
