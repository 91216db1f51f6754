"""BaseLLMWrapper: a real BaseChatModel whose every call is routed across many instances.

The wrapper calls the chosen inner model's `_generate/_agenerate/_stream/_astream`, never its
public `invoke`, so each call makes exactly one callback run: LangGraph's
`stream_mode="messages"` and LangSmith see each token once, under the wrapper's name.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from infrastructure.llm.errors import StreamInterruptedError
from infrastructure.llm.fleet.health_probe import DEFAULT_PROBE_TIMEOUT, ProbeResult, aprobe, probe
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.target import Target
from infrastructure.llm.routing.attempts import Served
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.hedging import Hedger
from infrastructure.llm.wrappers.stats import WrapperStats
from infrastructure.llm.wrappers.tool_binding import format_tools

T = TypeVar("T")
Opened = tuple[list[ChatGenerationChunk], Iterator[ChatGenerationChunk]]
AsyncOpened = tuple[list[ChatGenerationChunk], AsyncIterator[ChatGenerationChunk]]


def _carries_output(chunk: ChatGenerationChunk) -> bool:
    """Whether a chunk holds output; role-only openers do not, so failover stays possible."""
    message = chunk.message
    return bool(chunk.text or getattr(message, "tool_call_chunks", None) or message.content)


def _request_kwargs(
    target: Target, instance: Instance, timeout: float, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Echelon defaults, overridden by the caller's kwargs, plus the attempt's timeout."""
    merged = {**target.call_params, **kwargs} if target.call_params else dict(kwargs)
    if instance.accepts_request_timeout:
        merged["timeout"] = timeout
    return merged


def _health_report(results: list[ProbeResult]) -> dict[str, Any]:
    healthy = sum(1 for r in results if r.healthy)
    return {
        "healthy": healthy > 0,
        "healthy_instances": healthy,
        "total_instances": len(results),
        "instances": {r.instance: {"healthy": r.healthy, "error": r.error} for r in results},
    }


class BaseLLMWrapper(BaseChatModel, ABC):
    """Routing chat model: subclasses say where calls go; this class speaks LangChain."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    wrapper_type: ClassVar[str] = "base"

    _stats: WrapperStats = PrivateAttr(default_factory=WrapperStats)
    _hedger: Hedger | None = PrivateAttr(default=None)

    # -- what subclasses provide -------------------------------------------------------------

    @abstractmethod
    def _start_call(self) -> CallRecord:
        """A fresh record for one call, carrying its deadline."""

    @abstractmethod
    def _route(
        self,
        record: CallRecord,
        op: Callable[[Target, Instance, float], T],
        *,
        streaming: bool,
    ) -> Served[T]:
        """Run `op` on instances until one succeeds."""

    @abstractmethod
    async def _aroute(
        self,
        record: CallRecord,
        op: Callable[[Target, Instance, float], Awaitable[T]],
        *,
        streaming: bool,
    ) -> Served[T]:
        """Async twin of `_route`."""

    @property
    @abstractmethod
    def routed_name(self) -> str:
        """What this wrapper routes to (a target or a pool), for tracing and metadata."""

    @abstractmethod
    def routed_instances(self) -> list[Instance]:
        """Every instance a call through this wrapper may reach."""

    # -- LangChain surface --------------------------------------------------------------------

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"wrapper": self.name, "routes": self.routed_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="llm_wrappers",
            ls_model_name=kwargs.get("model", self.routed_name),
            ls_model_type="chat",
        )
        if "temperature" in kwargs:
            params["ls_temperature"] = kwargs["temperature"]
        if "max_tokens" in kwargs:
            params["ls_max_tokens"] = kwargs["max_tokens"]
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in OpenAI format; every routed instance receives the same tools."""
        return self.bind(**format_tools(tools, tool_choice, strict), **kwargs)

    def get_stats(self) -> dict[str, Any]:
        return {"wrapper": self.name, "routes": self.routed_name, **self._stats.snapshot()}

    def reset_stats(self) -> None:
        self._stats.reset()

    def health_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Probe every reachable instance now; healthy when at least one answers."""
        return _health_report([probe(i, timeout) for i in self.routed_instances()])

    async def ahealth_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Async twin of `health_check`; probes run concurrently."""
        probes = [aprobe(i, timeout) for i in self.routed_instances()]
        return _health_report(list(await asyncio.gather(*probes)))

    # -- routing with failure accounting -------------------------------------------------------

    def _serve(
        self, record: CallRecord, op: Callable[[Target, Instance, float], T], *, streaming: bool
    ) -> Served[T]:
        """Route `op` (hedged when configured); a call no instance answered counts as failed."""
        try:
            if self._hedger is None:
                return self._route(record, op, streaming=streaming)
            return self._hedger.race(
                record,
                lambda lane: self._route(lane, op, streaming=streaming),
                _close_opened if streaming else _keep,
            )
        except Exception:
            self._stats.record(record, ok=False, latency=0.0, usage=None)
            raise

    async def _aserve(
        self,
        record: CallRecord,
        op: Callable[[Target, Instance, float], Awaitable[T]],
        *,
        streaming: bool,
    ) -> Served[T]:
        """Async twin of `_serve`."""
        try:
            if self._hedger is None:
                return await self._aroute(record, op, streaming=streaming)
            return await self._hedger.arace(
                record,
                lambda lane: self._aroute(lane, op, streaming=streaming),
                _aclose_opened if streaming else _akeep,
            )
        except Exception:
            self._stats.record(record, ok=False, latency=0.0, usage=None)
            raise

    # -- invoke -------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def op(target: Target, instance: Instance, timeout: float) -> ChatResult:
            request = _request_kwargs(target, instance, timeout, kwargs)
            return instance.chat_model._generate(messages, stop=stop, **request)

        record = self._start_call()
        started = time.perf_counter()
        served = self._serve(record, op, streaming=False)
        return self._finish_result(served, record, started)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async def op(target: Target, instance: Instance, timeout: float) -> ChatResult:
            request = _request_kwargs(target, instance, timeout, kwargs)
            return await instance.chat_model._agenerate(messages, stop=stop, **request)

        record = self._start_call()
        started = time.perf_counter()
        served = await self._aserve(record, op, streaming=False)
        return self._finish_result(served, record, started)

    def _finish_result(
        self, served: Served[ChatResult], record: CallRecord, started: float
    ) -> ChatResult:
        result = served.value
        message = result.generations[0].message
        message.response_metadata["routing"] = self._routing_metadata(served, record)
        usage = getattr(message, "usage_metadata", None)
        self._stats.record(record, ok=True, latency=time.perf_counter() - started, usage=usage)
        return result

    # -- stream -------------------------------------------------------------------------------

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        def op(target: Target, instance: Instance, timeout: float) -> Opened:
            request = _request_kwargs(target, instance, timeout, kwargs)
            chunks = instance.chat_model._stream(messages, stop=stop, **request)
            opening: list[ChatGenerationChunk] = []
            try:
                for chunk in chunks:
                    opening.append(chunk)
                    if _carries_output(chunk):
                        break
            except BaseException:
                chunks.close()  # type: ignore[attr-defined]
                raise
            return opening, chunks

        record = self._start_call()
        started = time.perf_counter()
        served = self._serve(record, op, streaming=True)
        opening, chunks = served.value
        relay = _StreamRelay(self, served, record, started)
        try:
            for chunk in opening:
                yield relay.pass_on(chunk)
            for chunk in chunks:
                yield relay.pass_on(chunk)
        except Exception as exc:
            raise relay.interrupted(exc) from exc
        finally:
            chunks.close()  # type: ignore[attr-defined]
            relay.close()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async def op(target: Target, instance: Instance, timeout: float) -> AsyncOpened:
            request = _request_kwargs(target, instance, timeout, kwargs)
            chunks = instance.chat_model._astream(messages, stop=stop, **request)
            opening: list[ChatGenerationChunk] = []
            try:
                async for chunk in chunks:
                    opening.append(chunk)
                    if _carries_output(chunk):
                        break
            except BaseException:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise
            return opening, chunks

        record = self._start_call()
        started = time.perf_counter()
        served = await self._aserve(record, op, streaming=True)
        opening, chunks = served.value
        relay = _StreamRelay(self, served, record, started)
        try:
            for chunk in opening:
                yield relay.pass_on(chunk)
            async for chunk in chunks:
                yield relay.pass_on(chunk)
        except Exception as exc:
            raise relay.interrupted(exc) from exc
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            relay.close()

    # -- metadata -----------------------------------------------------------------------------

    def _routing_metadata(self, served: Served[Any], record: CallRecord) -> dict[str, Any]:
        """Names what served the call; goes into `response_metadata["routing"]`."""
        return {
            "wrapper": self.name,
            "group": served.target.group,
            "echelon": served.target.echelon,
            "target": served.target.name,
            "model": served.instance.model_name,
            "instance": served.instance.id,
            "attempts": record.attempts,
            "fallbacks": record.fallbacks,
            "hedged": record.hedges > 0,
            "cache_hit": False,
        }


def _keep(served: Served[Any]) -> None:
    """A losing hedge lane's complete answer holds nothing that needs closing."""


async def _akeep(served: Served[Any]) -> None:
    """Async twin of `_keep`."""


def _close_opened(served: Served[Opened]) -> None:
    """Close a losing hedge lane's stream and free its limit slot."""
    try:
        served.value[1].close()  # type: ignore[attr-defined]
    finally:
        served.permit.release()


async def _aclose_opened(served: Served[AsyncOpened]) -> None:
    """Async twin of `_close_opened`."""
    try:
        await served.value[1].aclose()  # type: ignore[attr-defined]
    finally:
        served.permit.release()


class _StreamRelay:
    """Bookkeeping for one stream after its first chunk: partial text, usage, the held slot."""

    __slots__ = ("failed", "parts", "record", "served", "started", "usage", "wrapper")

    def __init__(
        self, wrapper: BaseLLMWrapper, served: Served[Any], record: CallRecord, started: float
    ) -> None:
        self.wrapper = wrapper
        self.served = served
        self.record = record
        self.started = started
        self.parts: list[str] = []
        self.usage: UsageMetadata | None = None
        self.failed = False

    def pass_on(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        """Note the chunk's text and usage; the first chunk carries the routing metadata."""
        if not self.parts:
            metadata = self.wrapper._routing_metadata(self.served, self.record)
            chunk.message.response_metadata["routing"] = metadata
        self.parts.append(chunk.text)
        usage = getattr(chunk.message, "usage_metadata", None)
        if usage:
            self.usage = add_usage(self.usage, usage) if self.usage else usage
        return chunk

    def interrupted(self, exc: Exception) -> StreamInterruptedError:
        """The error to raise when the stream breaks after chunks were delivered."""
        self.failed = True
        self.served.breaker.on_failure()
        self.record.note_failure(self.served.instance.id, exc)
        return StreamInterruptedError(
            f"{self.wrapper.routed_name}: stream from {self.served.instance.id} broke",
            "".join(self.parts),
            exc,
        )

    def close(self) -> None:
        self.served.permit.release()
        latency = time.perf_counter() - self.started
        self.wrapper._stats.record(
            self.record, ok=not self.failed, latency=latency, usage=self.usage
        )
