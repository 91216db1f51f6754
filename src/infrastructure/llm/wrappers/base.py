"""BaseLLMWrapper: a real BaseChatModel whose every call is routed across many instances.

The wrapper calls the chosen inner model's `_generate/_agenerate/_stream/_astream`, never its
public `invoke`, so each call makes exactly one callback run: LangGraph's
`stream_mode="messages"` and LangSmith see each token once, under the wrapper's name.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import BaseTool
from pydantic import ConfigDict

from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.lookup import Hit
from infrastructure.llm.cache.request_key import RequestKey
from infrastructure.llm.cache.response_cache import BYPASS_ARGUMENT, ResponseCache
from infrastructure.llm.chat_signatures import signatures_computed_once
from infrastructure.llm.errors import EmptyStreamError
from infrastructure.llm.fleet.health_probe import (
    DEFAULT_PROBE_TIMEOUT,
    ProbeResult,
    aprobe,
    probe,
)
from infrastructure.llm.fleet.instance import Instance
from infrastructure.llm.fleet.member import Member
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.resilience.admission import Verdict
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.drivers import within
from infrastructure.llm.routing.engine import Served
from infrastructure.llm.routing.router import CallRouter
from infrastructure.llm.wrappers.run_events import (
    RUN_ARGUMENT,
    areport_hops,
    report_hops,
    stream_run,
)
from infrastructure.llm.wrappers.stream_relay import (
    AsyncOpened,
    Opened,
    StreamRelay,
    carries_output,
)
from infrastructure.llm.wrappers.tool_binding import format_tools

T = TypeVar("T")


def _request_kwargs(member: Member, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Echelon defaults, overridden by the caller's kwargs. (The attempt's time limit is not
    among them: the package's transports apply it.)"""
    params = member.echelon.call_params
    return {**params, **kwargs} if params else kwargs


def health_report(results: list[ProbeResult]) -> dict[str, Any]:
    """What `health_check()` returns: the probes' results, healthy when one answered."""
    healthy = sum(1 for r in results if r.healthy)
    return {
        "healthy": healthy > 0,
        "healthy_instances": healthy,
        "total_instances": len(results),
        "instances": {r.instance: {"healthy": r.healthy, "error": r.error} for r in results},
    }


@signatures_computed_once
class BaseLLMWrapper(BaseChatModel, ABC):
    """Routing chat model: subclasses build the router calls go through; this class speaks
    LangChain."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    wrapper_type: ClassVar[str] = "base"

    @cached_property
    def _router(self) -> CallRouter:
        """The router every call goes through, built once by `_build_router`.

        A cached property is read like a plain attribute; a pydantic private attribute costs
        microseconds on every read, and this one is read on every call.
        """
        return self._build_router()

    # -- what subclasses provide -------------------------------------------------------------

    @abstractmethod
    def _build_router(self) -> CallRouter:
        """The plan, state, clock and hedger this wrapper's calls use."""

    @property
    @abstractmethod
    def routed_name(self) -> str:
        """What this wrapper routes to (a target or a pool), for tracing and metadata."""

    @abstractmethod
    def routed_instances(self) -> list[Instance]:
        """Every instance a call through this wrapper may reach."""

    def _call_arguments(
        self, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """A call's keyword arguments, with what the routing reads from its config added
        (pools placing calls by session add the session id); taken out again by `_affinity`."""
        return kwargs

    def _affinity(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str | None:
        """The call's affinity key, for wrappers whose routing places calls by one; takes
        out of `kwargs` what only the routing reads."""
        return None

    # -- LangChain surface --------------------------------------------------------------------

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"wrapper": self.name, "routes": self.routed_name}

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """What LangChain's default builds (`asdict()`, `stop`, the call's kwargs), without
        its detour through the deprecated `dict()` (a warnings context on every call); a
        stream's run handle is no invocation param."""
        kwargs.pop(RUN_ARGUMENT, None)
        return {**self._identifying_params, "_type": self._llm_type, "stop": stop, **kwargs}

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        """LangChain's LLM-cache key, without a streamed call's run handle."""
        kwargs.pop(RUN_ARGUMENT, None)
        return super()._get_llm_string(stop=stop, **kwargs)

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

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Answers parsed into `schema`, asked for as `ChatOpenAI` asks for them.

        `method="json_schema"` (the default, as `ChatOpenAI`'s) and `"json_mode"` send
        `response_format`; `"function_calling"` forces a tool call. `strict` and `tools` as
        for `ChatOpenAI`; see `structured_output.py`.
        """
        from infrastructure.llm.wrappers.structured_output import structured_output

        return structured_output(self, schema, include_raw=include_raw, **kwargs)

    async def generate_async(self, messages: LanguageModelInput, **kwargs: Any) -> BaseMessage:
        """Seed 004's call: the same as `await wrapper.ainvoke(messages, **kwargs)`."""
        return await self.ainvoke(messages, **kwargs)

    @property
    def response_cache(self) -> ResponseCache | None:
        """This wrapper's cache (None without a `cache:` section)."""
        return self._router.cache

    def get_stats(self) -> dict[str, Any]:
        router = self._router
        stats = router.stats.snapshot()
        # Where limits and breakers live: "memory", "shared", or "local (degraded since ...)".
        state = router.state.status()
        found = {"wrapper": self.name, "routes": self.routed_name, **stats, "state": state}
        if router.cache is not None:
            found["cache"] = router.cache.describe()
        return found

    def reset_stats(self) -> None:
        router = self._router
        router.stats.reset()
        if router.cache is not None:
            router.cache.stats.reset()

    def get_fallback_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Recent hops (time, from, to, reason, error type) of this wrapper's calls."""
        return self._router.history.as_dicts(limit)

    def health_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Probe every reachable instance now; healthy when at least one answers."""
        return health_report([probe(i, timeout) for i in self.routed_instances()])

    async def ahealth_check(self, timeout: float = DEFAULT_PROBE_TIMEOUT) -> dict[str, Any]:
        """Async twin of `health_check`; probes run concurrently."""
        probes = [aprobe(i, timeout) for i in self.routed_instances()]
        return health_report(list(await asyncio.gather(*probes)))

    # -- hedge losers -------------------------------------------------------------------------

    def _drop_stream(self, served: Served[Opened]) -> None:
        """Close a losing hedge lane's stream and free its limit slot."""
        try:
            served.value[1].close()  # type: ignore[attr-defined]
        finally:
            self._router.end_stream(served, Verdict.STREAM_ENDED)

    async def _adrop_stream(self, served: Served[AsyncOpened]) -> None:
        """Async twin of `_drop_stream`."""
        try:
            await served.value[1].aclose()  # type: ignore[attr-defined]
        finally:
            await self._router.aend_stream(served, Verdict.STREAM_ENDED)

    # -- invoke -------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run_manager = kwargs.pop(RUN_ARGUMENT, None) or run_manager

        def attempt(member: Member) -> ChatResult:
            request = _request_kwargs(member, kwargs)
            return member.instance.chat_model._generate(messages, stop=stop, **request)

        router = self._router
        affinity = self._affinity(messages, kwargs)
        started = time.perf_counter()
        cache, key = _cache_key(router.cache, messages, stop, kwargs)
        if key is not None:
            found = cache.look_up(key)
            if type(found) is Hit:
                return self._cached_result(found, started)
        record = router.start(affinity)
        served: Served[ChatResult] | None
        try:
            served = router.serve(record, attempt, False, _keep)
        finally:
            report_hops(run_manager, record)
        if served is None:
            return self._offline_result(router, messages, stop, record, started)
        result = self._finish_result(router, served, record, started)
        if key is not None:
            cache.keep(found, CachedAnswer.of_result(result))
        return result

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run_manager = kwargs.pop(RUN_ARGUMENT, None) or run_manager

        async def attempt(member: Member) -> ChatResult:
            request = _request_kwargs(member, kwargs)
            return await member.instance.models.agenerate(messages, stop, **request)

        router = self._router
        affinity = self._affinity(messages, kwargs)
        started = time.perf_counter()
        cache, key = _cache_key(router.cache, messages, stop, kwargs)
        if key is not None:
            found = await cache.alook_up(key)
            if type(found) is Hit:
                return self._cached_result(found, started)
        record = router.start(affinity)
        served: Served[ChatResult] | None
        try:
            served = await router.aserve(record, attempt, False, _akeep)
        finally:
            await areport_hops(run_manager, record)
        if served is None:
            return self._offline_result(router, messages, stop, record, started)
        result = self._finish_result(router, served, record, started)
        if key is not None:
            await cache.akeep(found, CachedAnswer.of_result(result))
        return result

    def _finish_result(
        self, router: CallRouter, served: Served[ChatResult], record: CallRecord, started: float
    ) -> ChatResult:
        result = served.value
        message = result.generations[0].message
        metadata = self._routing_metadata(served, record, started)
        message.response_metadata["routing"] = metadata
        _add_generation_info(result.generations[0], metadata)
        usage = getattr(message, "usage_metadata", None)
        router.stats.record(record, ok=True, latency=metadata["latency_ms"] / 1000, usage=usage)
        return result

    # -- the run of a streamed call ------------------------------------------------------------

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """LangChain's `invoke`; when LangChain will stream it (a streaming handler such as
        LangGraph's `stream_mode="messages"` is attached), its `_stream` gets the run's
        manager, as `stream`'s does."""
        config, kwargs = self._invoke_setup(config, stop, kwargs, asynchronous=False)
        return super().invoke(input, config, stop=stop, **kwargs)

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Async twin of `invoke`."""
        config, kwargs = self._invoke_setup(config, stop, kwargs, asynchronous=True)
        return await super().ainvoke(input, config, stop=stop, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """LangChain's `stream`, whose `_stream` gets the run's manager (see `run_events`)."""
        config, kwargs = self._stream_setup(config, stop, kwargs, asynchronous=False)
        yield from super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of `stream`."""
        config, kwargs = self._stream_setup(config, stop, kwargs, asynchronous=True)
        async with aclosing(super().astream(input, config, stop=stop, **kwargs)) as chunks:
            async for chunk in chunks:
                yield chunk

    def _stream_setup(
        self,
        config: RunnableConfig | None,
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        asynchronous: bool,
    ) -> tuple[RunnableConfig | None, dict[str, Any]]:
        """The config and arguments to stream with (LangChain's `stream` checks whether the
        model streams as below)."""
        kwargs = self._call_arguments(config, kwargs)
        streams = self._should_stream(async_api=asynchronous, **{**kwargs, "stream": True})
        return self._streamed_run(config, stop, kwargs, streams, asynchronous=asynchronous), kwargs

    def _invoke_setup(
        self,
        config: RunnableConfig | None,
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        asynchronous: bool,
    ) -> tuple[RunnableConfig | None, dict[str, Any]]:
        """The config and arguments to invoke with: LangChain's own check says whether it
        will stream the call (asked only when a handler is attached, or `stream` is passed:
        otherwise it will not). The call's callbacks are its config's, else those of the
        runnable it runs in, as `ensure_config` finds them."""
        kwargs = self._call_arguments(config, kwargs)
        callbacks = config.get("callbacks") if config else None
        if callbacks is None:
            outer = var_child_runnable_config.get()
            callbacks = outer.get("callbacks") if outer else None
        handlers = [*_handlers(callbacks), *_handlers(self.callbacks)]
        if not handlers and not kwargs.get("stream"):
            return config, kwargs
        streams = self._should_stream(
            async_api=asynchronous, run_manager=_Handlers(handlers), **kwargs
        )
        return self._streamed_run(config, stop, kwargs, streams, asynchronous=asynchronous), kwargs

    def _streamed_run(
        self,
        config: RunnableConfig | None,
        stop: list[str] | None,
        kwargs: dict[str, Any],
        streams: bool,
        *,
        asynchronous: bool,
    ) -> RunnableConfig | None:
        """The config to call LangChain with; when it `streams` the call (and so calls
        `_stream` without the run), the run is made here and its manager put in `kwargs`
        for `_stream`."""
        if not streams:
            return config
        ls_params = self._get_ls_params_with_defaults(stop=stop, **kwargs)
        streamed, run = stream_run(self, config, ls_params, asynchronous=asynchronous)
        kwargs[RUN_ARGUMENT] = run
        return streamed

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        run_manager = kwargs.pop(RUN_ARGUMENT, None) or run_manager

        def attempt(member: Member) -> Opened:
            request = _request_kwargs(member, kwargs)
            chunks = member.instance.chat_model._stream(messages, stop=stop, **request)
            opening: list[ChatGenerationChunk] = []
            try:
                for chunk in chunks:
                    opening.append(chunk)
                    if carries_output(chunk):
                        break
                else:
                    if not opening:
                        raise EmptyStreamError(member.instance.id)
            except BaseException:
                chunks.close()  # type: ignore[attr-defined]
                raise
            return opening, chunks

        router = self._router
        affinity = self._affinity(messages, kwargs)
        started = time.perf_counter()
        cache, key = _cache_key(router.cache, messages, stop, kwargs)
        if key is not None:
            found = cache.look_up(key)
            if type(found) is Hit:
                yield from self._replay(found, started)
                return
        record = router.start(affinity)
        served: Served[Opened] | None
        try:
            served = router.serve(record, attempt, True, self._drop_stream)
        finally:
            report_hops(run_manager, record)
        if served is None:
            yield from self._offline_chunks(router, messages, stop, record, started)
            return
        opening, chunks = served.value
        relay = self._relay(router, served, record, started, keep=key is not None)
        try:
            for chunk in opening:
                yield relay.pass_on(chunk)
            for chunk in chunks:
                yield relay.pass_on(chunk)
        except Exception as exc:
            raise relay.interrupted(exc, self.routed_name) from exc
        finally:
            try:
                chunks.close()  # type: ignore[attr-defined]
            finally:
                router.end_stream(served, relay.close())
        if key is not None:  # only a stream that ran to its end is kept
            cache.keep(found, CachedAnswer.of_chunks(relay.kept or []))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        run_manager = kwargs.pop(RUN_ARGUMENT, None) or run_manager

        async def attempt(member: Member) -> AsyncOpened:
            request = _request_kwargs(member, kwargs)
            model = member.instance.models.for_running_loop()
            chunks = model._astream(messages, stop=stop, **request)
            opening: list[ChatGenerationChunk] = []
            try:
                async for chunk in chunks:
                    opening.append(chunk)
                    if carries_output(chunk):
                        break
                else:
                    if not opening:
                        raise EmptyStreamError(member.instance.id)
            except BaseException:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise
            return opening, chunks

        router = self._router
        affinity = self._affinity(messages, kwargs)
        started = time.perf_counter()
        cache, key = _cache_key(router.cache, messages, stop, kwargs)
        if key is not None:
            found = await cache.alook_up(key)
            if type(found) is Hit:
                for chunk in self._replay(found, started):
                    yield chunk
                return
        record = router.start(affinity)
        served: Served[AsyncOpened] | None
        try:
            served = await router.aserve(record, attempt, True, self._adrop_stream)
        finally:
            await areport_hops(run_manager, record)
        if served is None:
            for chunk in self._offline_chunks(router, messages, stop, record, started):
                yield chunk
            return
        opening, chunks = served.value
        relay = self._relay(router, served, record, started, keep=key is not None)
        try:
            for chunk in opening:
                yield relay.pass_on(chunk)
            while True:  # each read is held to the call's deadline; our yields are not
                try:
                    chunk = await within(served.limit, anext(chunks))
                except StopAsyncIteration:
                    break
                yield relay.pass_on(chunk)
        except Exception as exc:
            raise relay.interrupted(exc, self.routed_name) from exc
        finally:
            try:
                await chunks.aclose()  # type: ignore[attr-defined]
            finally:
                await router.aend_stream(served, relay.close())
        if key is not None:  # only a stream that ran to its end is kept
            await cache.akeep(found, CachedAnswer.of_chunks(relay.kept or []))

    def _relay(
        self,
        router: CallRouter,
        served: Served[Any],
        record: CallRecord,
        started: float,
        keep: bool,
    ) -> StreamRelay:
        metadata = self._routing_metadata(served, record, started)
        return StreamRelay(served, record, started, metadata, router.stats.record, keep)

    # -- offline answers ----------------------------------------------------------------------

    def _offline_result(
        self,
        router: CallRouter,
        messages: list[BaseMessage],
        stop: list[str] | None,
        record: CallRecord,
        started: float,
    ) -> ChatResult:
        """The offline model's answer to a call no instance answered (see `offline.py`)."""
        assert router.offline is not None
        result = router.offline._generate(messages, stop=stop)
        metadata = self._offline_metadata(router.offline, record, started)
        result.generations[0].message.response_metadata["routing"] = metadata
        _add_generation_info(result.generations[0], metadata)
        router.stats.answered_offline()
        return result

    def _offline_chunks(
        self,
        router: CallRouter,
        messages: list[BaseMessage],
        stop: list[str] | None,
        record: CallRecord,
        started: float,
    ) -> Iterator[ChatGenerationChunk]:
        """`_offline_result` as a stream; the first chunk carries the routing metadata."""
        assert router.offline is not None
        metadata = self._offline_metadata(router.offline, record, started)
        router.stats.answered_offline()
        for position, chunk in enumerate(router.offline._stream(messages, stop=stop)):
            if not position:
                chunk.message.response_metadata["routing"] = metadata
                _add_generation_info(chunk, metadata)
            yield chunk

    def _offline_metadata(
        self, offline: MockChatModel, record: CallRecord, started: float
    ) -> dict[str, Any]:
        """`response_metadata["routing"]` of an offline answer: no instance, `offline: True`."""
        metadata = self._unserved_metadata(started)
        metadata.update(
            model=offline.model,
            attempts=record.attempts,
            fallbacks=record.fallbacks,
            hedged=record.hedges > 0,
            offline=True,
        )
        return metadata

    # -- cache hits ---------------------------------------------------------------------------

    def _cached_result(self, hit: Hit, started: float) -> ChatResult:
        result = hit.answer.result()
        metadata = self._hit_metadata(hit, started)
        result.generations[0].message.response_metadata["routing"] = metadata
        _add_generation_info(result.generations[0], metadata)
        return result

    def _replay(self, hit: Hit, started: float) -> Iterator[ChatGenerationChunk]:
        """The cached answer as chunks; the first carries the routing metadata."""
        chunks = hit.answer.stream()
        metadata = self._hit_metadata(hit, started)
        chunks[0].message.response_metadata["routing"] = metadata
        _add_generation_info(chunks[0], metadata)
        yield from chunks

    def _hit_metadata(self, hit: Hit, started: float) -> dict[str, Any]:
        """`response_metadata["routing"]` of an answer served from the cache: no instance."""
        metadata = self._unserved_metadata(started)
        metadata["cache_hit"] = hit.kind.value
        if hit.similarity is not None:
            metadata["similarity"] = round(hit.similarity, 4)
        return metadata

    def _unserved_metadata(self, started: float) -> dict[str, Any]:
        """The routing metadata of an answer no instance gave (a cache hit, an offline one)."""
        return {
            "wrapper": self.name,
            "group": None,
            "echelon": None,
            "target": self.routed_name,
            "model": None,
            "instance": None,
            "attempts": 0,
            "fallbacks": 0,
            "hedged": False,
            "cache_hit": False,
            "latency_ms": _milliseconds_since(started),
        }

    # -- metadata -----------------------------------------------------------------------------

    def _routing_metadata(
        self, served: Served[Any], record: CallRecord, started: float
    ) -> dict[str, Any]:
        """Names what served the call and how long it took (for a stream: until its first
        chunk); goes into `response_metadata["routing"]`."""
        member = served.member
        return {
            "wrapper": self.name,
            "group": member.echelon.group,
            "echelon": member.echelon.number,
            "target": served.candidates.target_name(member),
            "model": member.instance.model_name,
            "instance": member.instance.id,
            "attempts": record.attempts,
            "fallbacks": record.fallbacks,
            "hedged": record.hedges > 0,
            "cache_hit": False,
            "latency_ms": _milliseconds_since(started),
        }


def _add_generation_info(generation: ChatGeneration, metadata: dict[str, Any]) -> None:
    """Put the routing facts where a trace shows the run's outputs, too."""
    generation.generation_info = {**(generation.generation_info or {}), "routing": metadata}


class _Handlers:
    """What `_should_stream` reads of a run manager, its handlers, for a call whose run has
    not started yet."""

    __slots__ = ("handlers",)

    def __init__(self, handlers: list[Any]) -> None:
        self.handlers = handlers


def _handlers(callbacks: Any) -> list[Any]:
    """The handlers in a `callbacks` value: None, a list of handlers, or a manager."""
    if callbacks is None:
        return []
    return list(getattr(callbacks, "handlers", callbacks))


def _milliseconds_since(started: float) -> float:
    """Milliseconds to the microsecond (`round` would cost a call a fifth of a microsecond)."""
    return int((time.perf_counter() - started) * 1_000_000) / 1000


def _cache_key(
    cache: ResponseCache | None,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> tuple[ResponseCache, RequestKey | None]:
    """The cache and the call's key in it (None: not cached); the bypass argument is taken
    out of `kwargs` either way, so it never reaches a server."""
    if cache is None:
        kwargs.pop(BYPASS_ARGUMENT, None)
        return cache, None  # type: ignore[return-value]
    return cache, cache.key_for(messages, stop, kwargs)


def _keep(served: Served[Any]) -> None:
    """A losing hedge lane's complete answer holds nothing that needs closing."""


async def _akeep(served: Served[Any]) -> None:
    """Async twin of `_keep`."""
