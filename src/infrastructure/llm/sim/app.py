"""Routes requests to the simulated endpoints and applies the current fault to each answer."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import json
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from infrastructure.llm.sim.capture import CapturedRequest, RequestLog
from infrastructure.llm.sim.connection import Connection
from infrastructure.llm.sim.embeddings import embeddings_body
from infrastructure.llm.sim.faults import JUNK_MODES, FaultMode
from infrastructure.llm.sim.http11 import (
    LAST_CHUNK,
    HttpRequest,
    reason_phrase,
    render_chunk,
    render_response,
    render_stream_head,
)
from infrastructure.llm.sim.payloads import (
    DONE_EVENT,
    HEALTHY_BODY,
    HTML_ERROR_PAGE,
    completion_body,
    error_body,
    models_body,
    no_choices_body,
    stream_events,
    truncated_completion_body,
)
from infrastructure.llm.sim.planning import CompletionPlan, RequestError, plan_completion
from infrastructure.llm.sim.stats import StatsRecorder
from infrastructure.llm.sim.vllm.engine import EngineRequest, VllmEngine
from infrastructure.llm.sim.vllm.metrics import CONTENT_TYPE, render_metrics

Endpoint = Literal["chat", "embeddings", "models", "health", "metrics"]
Pending = Coroutine[Any, Any, None] | None

_ROUTES: tuple[tuple[str, Endpoint, str], ...] = (
    ("/chat/completions", "chat", "POST"),
    ("/embeddings", "embeddings", "POST"),
    ("/models", "models", "GET"),
    ("/health", "health", "GET"),
    ("/metrics", "metrics", "GET"),
)


class SimApp:
    """The simulated OpenAI endpoints. Runs on the server's loop thread only.

    Paths match by suffix, so `/v1/chat/completions`, `/chat/completions` and
    `/<anything>/v1/chat/completions` all work: one server can stand in for many instances.

    Health and model-list requests follow the fault too (hang, refuse, latency, error rate)
    so health checks notice a bad instance; every other fault (429s, cut streams, drip, junk
    200s, status, echo_auth, hang_chat) only hits completions, so the instance looks alive.
    Embeddings follow the faults that fail a whole request: hang, refuse, latency, error
    rate, rate limit, status and echo_auth; the stream and junk faults and hang_chat leave
    them healthy.
    Outcomes are counted before the answer is written, so a client holding its answer
    already sees the matching counter. Every chat-completion request is captured (path,
    headers, parsed body) before the fault applies.

    For chat completions the fault's answer comes before the body is checked: in the status,
    echo_auth and junk modes even an invalid body gets the fault's answer, not a 400.

    With a vLLM `engine`, a valid completion then waits for a slot, spends its prefill (the
    prompt tokens the prefix cache lacks), and streams one token per decode step; `/metrics`
    serves vLLM's metrics (404 without an engine) and follows the fault like a health probe.
    """

    def __init__(
        self,
        stats: StatsRecorder,
        model_name: str,
        reply: str | None,
        captured: RequestLog,
        engine: VllmEngine | None = None,
    ) -> None:
        self._stats = stats
        self._captured = captured
        self._model_name = model_name
        self._reply = reply
        self._sequence = itertools.count(1)
        self._fault = FaultMode()
        self._chat_rng = random.Random()
        self._embeddings_rng = random.Random()
        self._probe_rng = random.Random()
        self._engine = engine
        self._admissions: dict[EngineRequest, asyncio.Future[None]] = {}

    def set_fault(self, fault: FaultMode) -> None:
        """Apply `fault` to requests arriving from now on; a seed restarts the RNGs.

        Completions, embeddings and probes (health, models) draw from separate RNGs, so
        background health checks and embeddings never shift which seeded completions fail.
        """
        self._fault = fault
        self._chat_rng = random.Random(fault.seed)
        self._embeddings_rng = random.Random(fault.seed)
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
        if endpoint == "embeddings":
            self._stats.embeddings_received()
            if fault.mode == "hang":
                return self._hang(conn, chat=False)
            answer = functools.partial(self._embeddings, request, conn, fault)
            return self._after(fault.draw_delay(self._embeddings_rng), conn, answer, chat=False)
        if endpoint != "chat":
            if fault.mode == "hang":
                return self._hang(conn, chat=False)
            answer = functools.partial(self._probe, request, conn, endpoint, fault)
            return self._after(fault.draw_delay(self._probe_rng), conn, answer, chat=False)
        self._stats.received()
        try:
            body, invalid = json.loads(request.body), None
        except ValueError as error:
            body, invalid = None, f"invalid JSON body: {error}"
        self._captured.add(CapturedRequest(request.path, request.headers, body))
        if fault.mode in ("hang", "hang_chat"):
            return self._hang(conn, chat=True)
        answer = functools.partial(self._chat, request, conn, fault, body, invalid)
        return self._after(fault.draw_delay(self._chat_rng), conn, answer, chat=True)

    async def _hang(self, conn: Connection, *, chat: bool) -> None:
        """Never answer; a completion whose client gives up counts as cancelled."""
        await conn.wait_closed()
        if chat:
            self._stats.finished("cancelled")

    def _after(
        self, delay: float, conn: Connection, answer: Callable[[], Pending], *, chat: bool
    ) -> Pending:
        """`answer()` at once, or the coroutine answering after `delay` seconds."""
        if delay <= 0:
            return answer()
        return self._delayed(delay, conn, answer, chat=chat)

    async def _delayed(
        self, delay: float, conn: Connection, answer: Callable[[], Pending], *, chat: bool
    ) -> None:
        """Answer after `delay` seconds unless the client leaves first."""
        if not await conn.pause(delay):
            if chat:
                self._stats.finished("cancelled")
            return
        pending = answer()
        if pending is not None:
            await pending

    def _probe(
        self, request: HttpRequest, conn: Connection, endpoint: Endpoint, fault: FaultMode
    ) -> Pending:
        """Answer a health, model-list or metrics probe, once any delay has passed."""
        if fault.mode == "error_rate" and fault.draw_failure(self._probe_rng):
            conn.write(_json(request, 500, _server_error()))
        elif endpoint == "metrics":
            conn.write(self._metrics(request))
        elif endpoint == "health":
            conn.write(_json(request, 200, HEALTHY_BODY))
        else:
            conn.write(_json(request, 200, models_body([self._model_name], int(time.time()))))
        return None

    def _embeddings(self, request: HttpRequest, conn: Connection, fault: FaultMode) -> Pending:
        """Answer an embeddings request, once any delay has passed."""
        if fault.draw_failure(self._embeddings_rng):
            conn.write(_failure(request, fault))
        elif fault.mode in ("status", "echo_auth"):
            conn.write(_fault_status(request, fault))
        else:
            try:
                body = embeddings_body(_json_body(request), served_model=self._model_name)
            except RequestError as error:
                conn.write(_json(request, 400, error_body(str(error), "invalid_request_error")))
            else:
                conn.write(_json(request, 200, body))
        return None

    def _chat(
        self,
        request: HttpRequest,
        conn: Connection,
        fault: FaultMode,
        body: Any,
        invalid: str | None,
    ) -> Pending:
        """Answer a chat completion, once any delay has passed."""
        if fault.draw_failure(self._chat_rng):
            self._stats.finished("errors_sent")
            conn.write(_failure(request, fault))
            return None
        if fault.mode in ("status", "echo_auth"):
            self._stats.finished("errors_sent")
            conn.write(_fault_status(request, fault))
            return None
        number = next(self._sequence)
        completion_id = f"chatcmpl-sim{number}"
        if fault.mode in JUNK_MODES:
            self._stats.finished("junk")
            conn.write(self._junk(request, fault, body, completion_id))
            return None
        try:
            if invalid is not None:
                raise RequestError(invalid)
            plan = plan_completion(
                body, served_model=self._model_name, reply=self._reply, call_id=f"call_sim{number}"
            )
        except (RequestError, ValueError) as error:
            self._stats.finished("bad_requests")
            conn.write(_json(request, 400, error_body(str(error), "invalid_request_error")))
            return None
        if self._engine is not None:
            return self._served(self._engine, request, conn, plan, completion_id, fault)
        return self._answer(request, conn, plan, completion_id, fault, fault.chunk_delay)

    def _answer(
        self,
        request: HttpRequest,
        conn: Connection,
        plan: CompletionPlan,
        completion_id: str,
        fault: FaultMode,
        pace: float,
    ) -> Pending:
        """Send a planned completion: streamed `pace` seconds apart per chunk, or whole."""
        if plan.stream:
            return self._stream(request, conn, plan, completion_id, fault, pace)
        if fault.mode == "cut_stream":
            self._stats.finished("cut")
            conn.close()
            return None
        payload = completion_body(plan, completion_id, int(time.time()))
        if fault.mode == "drip":
            response = _json(request, 200, payload)
            head = response[: len(response) - len(payload)]
            return self._paced(conn, head, _bytes(payload), fault.drip_delay, cut=False)
        self._stats.finished("completed")
        conn.write(_json(request, 200, payload))
        return None

    async def _served(
        self,
        engine: VllmEngine,
        request: HttpRequest,
        conn: Connection,
        plan: CompletionPlan,
        completion_id: str,
        fault: FaultMode,
    ) -> None:
        """Answer as a vLLM instance: wait for a slot, prefill, then one token per decode step.

        The answer's usage reports the prefix-cache hit as `prompt_tokens_details.cached_tokens`.
        A client leaving at any point frees the slot (or the place in the queue).
        """
        job = engine.arrive(plan.prompt, plan.completion_tokens)
        try:
            if job.prefill is None:
                admitted = asyncio.get_running_loop().create_future()
                self._admissions[job] = admitted
                if not await conn.wait_for(admitted):
                    self._stats.finished("cancelled")
                    return
            assert job.prefill is not None
            if not await conn.pause(job.prefill.seconds):
                self._stats.finished("cancelled")
                return
            engine.prefilled(job)
            plan = dataclasses.replace(plan, cached_tokens=job.prefill.cached_tokens)
            step = engine.config.decode_seconds(1)
            if not plan.stream and not await conn.pause(step * (plan.completion_tokens - 1)):
                self._stats.finished("cancelled")
                return
            pace = step + fault.chunk_delay
            pending = self._answer(request, conn, plan, completion_id, fault, pace)
            if pending is not None:
                await pending
        finally:
            self._admissions.pop(job, None)
            for other in engine.leave(job):
                self._admissions.pop(other).set_result(None)

    def _metrics(self, request: HttpRequest) -> bytes:
        """vLLM's metrics in Prometheus text format, or 404 when no vLLM model runs here."""
        if self._engine is None:
            message = "no /metrics here: the simulator runs no vLLM model (see --vllm)"
            return _json(request, 404, error_body(message, "invalid_request_error"))
        body = render_metrics(self._engine.snapshot(), self._model_name)
        return render_response(200, body, keep_alive=request.keep_alive, content_type=CONTENT_TYPE)

    def _junk(self, request: HttpRequest, fault: FaultMode, body: Any, completion_id: str) -> bytes:
        """The junk 200 of an html, no_choices, bad_json or empty_stream fault.

        Only empty_stream looks at `stream`: the others send the same body either way, and
        a non-streamed request in empty_stream mode gets the no_choices answer.
        """
        if fault.mode == "html":
            return render_response(
                200,
                HTML_ERROR_PAGE,
                keep_alive=request.keep_alive,
                content_type="text/html; charset=utf-8",
            )
        fields = body if isinstance(body, dict) else {}
        model = fields.get("model")
        model = model if isinstance(model, str) and model else self._model_name
        created = int(time.time())
        if fault.mode == "bad_json":
            return _json(request, 200, truncated_completion_body(completion_id, model, created))
        if fault.mode == "empty_stream" and fields.get("stream") is True:
            head = render_stream_head(keep_alive=request.keep_alive)
            return head + render_chunk(DONE_EVENT) + LAST_CHUNK
        return _json(request, 200, no_choices_body(completion_id, model, created))

    def _stream(
        self,
        request: HttpRequest,
        conn: Connection,
        plan: CompletionPlan,
        completion_id: str,
        fault: FaultMode,
        pace: float,
    ) -> Pending:
        """Send the SSE stream at once, `pace` seconds between chunks, or dripped byte by byte;
        cut_stream stops early."""
        events = stream_events(plan, completion_id, int(time.time()))
        head = render_stream_head(keep_alive=request.keep_alive)
        if fault.mode == "drip":  # each SSE byte its own HTTP chunk; the terminator ends the last
            drops = [render_chunk(byte) for byte in _bytes(b"".join(events.chunks + events.tail))]
            drops[-1] += LAST_CHUNK
            return self._paced(conn, head, drops, fault.drip_delay, cut=False)
        cut = fault.mode == "cut_stream"
        if cut:
            frames = [render_chunk(e) for e in events.chunks[: fault.cut_after]]
        else:  # the closing events go out with the last content chunk, unpaced
            frames = [render_chunk(e) for e in events.chunks]
            frames[-1] += b"".join(render_chunk(e) for e in events.tail) + LAST_CHUNK
        if pace == 0:
            self._end_stream(conn, cut, head + b"".join(frames))
            return None
        return self._paced(conn, head, frames, pace, cut)

    async def _paced(
        self, conn: Connection, head: bytes, frames: list[bytes], delay: float, cut: bool
    ) -> None:
        """Write the head at once, then the frames with a pause after each (a drip's frames
        are single bytes); a client that leaves cancels the answer."""
        conn.write(head)
        for frame in frames[:-1]:
            conn.write(frame)
            await conn.drain()
            if not await conn.pause(delay):
                self._stats.finished("cancelled")
                return
        self._end_stream(conn, cut, frames[-1] if frames else b"")

    def _end_stream(self, conn: Connection, cut: bool, data: bytes) -> None:
        """Count the answer, then write its last bytes; a cut one then drops the connection."""
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


def _json_body(request: HttpRequest) -> Any:
    """The parsed JSON body; RequestError if it is not JSON."""
    try:
        return json.loads(request.body)
    except ValueError as error:
        raise RequestError(f"invalid JSON body: {error}") from None


def _bytes(data: bytes) -> list[bytes]:
    """`data` as single-byte frames, for a drip."""
    return [data[i : i + 1] for i in range(len(data))]


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


def _fault_status(request: HttpRequest, fault: FaultMode) -> bytes:
    """The status fault's configured error, or echo_auth's 401 quoting the credential."""
    if fault.mode == "echo_auth":
        credential = request.headers.get("authorization")
        if credential is None:
            message = "Unauthorized: no Authorization header"
        else:
            message = f"Unauthorized: invalid credentials in Authorization header: {credential}"
        return _json(request, 401, error_body(message, "invalid_request_error"))
    status = fault.status_code
    message = fault.status_message or reason_phrase(status)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _json(request, status, error_body(message, kind))
