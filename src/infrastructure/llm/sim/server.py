"""SimServer: one simulated OpenAI-compatible instance on its own event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from infrastructure.llm.clock import MonotonicClock
from infrastructure.llm.sim.app import SimApp
from infrastructure.llm.sim.capture import DEFAULT_CAPTURE_LIMIT, CapturedRequest, RequestLog
from infrastructure.llm.sim.connection import Connection
from infrastructure.llm.sim.faults import FaultMode
from infrastructure.llm.sim.stats import SimStats, StatsRecorder
from infrastructure.llm.sim.vllm import VllmConfig, VllmEngine

T = TypeVar("T")

DEFAULT_MODEL = "sim-model"
_CONTROL_TIMEOUT = 10.0


class SimServer:
    """An OpenAI-compatible HTTP server on loopback whose faults can change at runtime.

    It serves from a daemon thread running its own event loop (uvloop when installed), so
    sync and async clients in the calling thread both work. Use as a context manager or
    call `start()`/`stop()`. The last `capture_limit` chat-completion requests are kept in
    `requests` (0 keeps none). With `vllm`, the server simulates a vLLM instance of that
    config: request slots, a prefix cache, its timing and its `/metrics`.
    """

    def __init__(
        self,
        fault: FaultMode | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str | None = None,
        reply: str | None = None,
        capture_limit: int = DEFAULT_CAPTURE_LIMIT,
        vllm: VllmConfig | None = None,
    ) -> None:
        self._fault = fault or FaultMode()
        self._host = host
        self._port = port
        self._stats = StatsRecorder()
        self._captured = RequestLog(capture_limit)
        self._vllm = vllm
        engine = VllmEngine(vllm, MonotonicClock()) if vllm is not None else None
        self._app = SimApp(self._stats, model_name or DEFAULT_MODEL, reply, self._captured, engine)
        self._connections: set[Connection] = set()
        self._control = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: asyncio.AbstractServer | None = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (chosen at start when 0 was asked for; kept across `refuse`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI client `base_url`, e.g. `http://127.0.0.1:8000/v1`."""
        return f"http://{self._host}:{self._port}/v1"

    @property
    def vllm(self) -> VllmConfig | None:
        """The simulated vLLM instance's parameters (None: a plain OpenAI-compatible server)."""
        return self._vllm

    @property
    def fault(self) -> FaultMode:
        """The fault currently applied."""
        return self._fault

    @property
    def stats(self) -> SimStats:
        """A snapshot of the chat-completion counters."""
        return self._stats.snapshot()

    @property
    def requests(self) -> list[CapturedRequest]:
        """The most recent chat-completion requests (path, headers, parsed body), oldest
        first; at most `capture_limit` of them since the last `reset_stats()`."""
        return self._captured.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters and forget the captured requests."""
        self._stats.reset()
        self._captured.clear()

    def wait_for(self, condition: Callable[[SimStats], bool], timeout: float = 5.0) -> SimStats:
        """Block until `condition(stats)` holds; TimeoutError after `timeout` seconds."""
        return self._stats.wait_for(condition, timeout)

    def start(self) -> SimServer:
        """Bind the port and start serving; returns self."""
        with self._control:
            if self._loop is not None:
                raise RuntimeError("SimServer is already running")
            loop = _new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="sim-server", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            try:
                self._run(self._open())
            except BaseException:
                self._halt()
                raise
            thread.name = f"sim-server-{self._port}"
            return self

    def stop(self) -> None:
        """Stop serving: drop every connection and end the loop thread. Idempotent."""
        with self._control:
            if self._loop is None:
                return
            self._run(self._close())
            self._halt()

    def set_fault(self, fault: FaultMode) -> None:
        """Switch the fault for requests arriving from now on; safe from any thread.

        Entering "refuse" closes the port and drops open connections; leaving it binds the
        same port again. Returns once the change is in effect.
        """
        with self._control:
            self._fault = fault
            if self._loop is not None:
                self._run(self._apply(fault))

    async def _open(self) -> None:
        """Bind (fixing the port), then apply the initial fault, which may be "refuse"."""
        await self._listen()
        await self._apply(self._fault)

    async def _apply(self, fault: FaultMode) -> None:
        """Hand the fault to the app and open or close the listening socket to match."""
        self._app.set_fault(fault)
        if fault.mode == "refuse":
            self._drop_everything()
        elif self._listener is None:
            await self._listen()

    async def _listen(self) -> None:
        """Listen on the configured port, remembering it when the OS picked one."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: Connection(self._app, self._connections),
            self._host,
            self._port,
            reuse_address=True,
            backlog=2048,
        )
        if self._port == 0:
            self._port = self._listener.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        """Drop everything and let cancelled answers finish unwinding."""
        self._drop_everything()
        current = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.sleep(0)  # let the dropped connections' close callbacks run

    def _drop_everything(self) -> None:
        """Close the listening socket and every open connection."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for connection in list(self._connections):
            connection.shutdown()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server loop and wait for its result."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(_CONTROL_TIMEOUT)

    def _halt(self) -> None:
        """Stop the loop, join its thread and close it."""
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CONTROL_TIMEOUT)
        self._loop.close()
        self._loop, self._thread = None, None


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (faster), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
