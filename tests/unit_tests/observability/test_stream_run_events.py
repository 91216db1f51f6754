"""Each fallback hop is a custom event on the call's one LangChain run, streamed or invoked:
to the run's handlers (the caller's and the wrapper's own, each once), with the run's id (the
caller's `run_id` when given), tags and metadata; the handle `stream()` hands `_stream` never
shows in the traced invocation params. Over the in-process mock, with a first echelon whose
instance is down. (With tracing on: `tests/integration_tests/observability/test_run_events.py`.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig

from infrastructure.llm import TaskGroupWrapper
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.providers.chat_models import SameModel
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.wrappers.run_events import FALLBACK_EVENT, RUN_ARGUMENT

from routing_helpers import CALL_MODES

MOCK = {"provider": "mock", "model": "mock"}


class Down(BaseChatModel):
    """An instance whose connection is reset on every call: a retryable failure."""

    @property
    def _llm_type(self) -> str:
        return "down"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ConnectionResetError("down")

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        raise ConnectionResetError("down")

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        raise ConnectionResetError("down")
        yield  # pragma: no cover


class Strict(MockChatModel):
    """The mock answer, refusing any keyword it does not know, as a provider's client does."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if kw:
            raise TypeError(f"unexpected keyword arguments {sorted(kw)}")
        return super()._generate(messages, stop)

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if kw:
            raise TypeError(f"unexpected keyword arguments {sorted(kw)}")
        return super()._stream(messages, stop)


class Trace(BaseCallbackHandler):
    """Runs started (id, tags, metadata, invocation params) and custom events received."""

    def __init__(self) -> None:
        self.runs: list[tuple[UUID, list[str], dict[str, Any], dict[str, Any]]] = []
        self.events: list[tuple[str, Any, UUID, list[str], dict[str, Any]]] = []

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = (run_id, list(tags or []), dict(metadata or {}), kwargs["invocation_params"])
        self.runs.append(run)

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.events.append((name, data, run_id, list(tags or []), dict(metadata or {})))


def down_first(manager_for: Callable[..., TaskGroupManager], **group: Any) -> TaskGroupWrapper:
    """A group whose first echelon's instance is down and whose second answers (and takes
    no keyword it does not know)."""
    echelons = {"echelon1": {"models": ["bad"], "max_retries": 0}, "echelon2": {"models": ["good"]}}
    manager = manager_for({"bad": MOCK, "good": MOCK}, {"g": {**echelons, **group}})
    llm = TaskGroupWrapper(target="g", task_group_manager=manager)
    for instance in llm.routed_instances():
        instance.models = SameModel(Down() if instance.id.startswith("bad") else Strict())
    return llm


def call(llm: BaseChatModel, mode: str, config: RunnableConfig) -> str:
    if mode == "invoke":
        return str(llm.invoke("hi", config=config).content)
    if mode == "ainvoke":
        return str(asyncio.run(llm.ainvoke("hi", config=config)).content)
    if mode == "stream":
        return "".join(str(c.content) for c in llm.stream("hi", config=config))

    async def collect() -> str:
        return "".join([str(c.content) async for c in llm.astream("hi", config=config)])

    return asyncio.run(collect())


def the_hop_on_the_run(trace: Trace) -> UUID:
    """Assert `trace` saw one run and, on it, one hop event; the run's id."""
    [(run_id, tags, metadata, params)] = trace.runs
    [(name, data, event_run_id, event_tags, event_metadata)] = trace.events
    assert (name, event_run_id) == (FALLBACK_EVENT, run_id)
    assert (data["from_target"], data["to_target"]) == ("g.echelon1", "g.echelon2")
    assert data["error_type"] == "ConnectionResetError"
    assert (event_tags, event_metadata) == (tags, metadata)
    assert RUN_ARGUMENT not in params
    return run_id


@pytest.mark.parametrize("mode", CALL_MODES)
def test_the_hop_reaches_the_run_handlers_once(manager_for: Any, mode: str) -> None:
    llm = down_first(manager_for)
    own = Trace()
    llm.callbacks, llm.tags, llm.metadata = [own], ["own"], {"own": 1}
    caller = Trace()
    config = RunnableConfig(callbacks=[caller], tags=["caller"], metadata={"caller": 2})
    assert call(llm, mode, config) == "Mock reply to: hi"
    run_id = the_hop_on_the_run(caller)
    assert the_hop_on_the_run(own) == run_id
    [(_, tags, metadata, _)] = caller.runs
    assert set(tags) == {"caller", "own"} and metadata.items() >= {"caller": 2, "own": 1}.items()


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_callers_run_id_is_the_runs(manager_for: Any, mode: str) -> None:
    llm = down_first(manager_for)
    trace, run_id = Trace(), uuid4()
    call(llm, mode, RunnableConfig(callbacks=[trace], run_id=run_id))
    assert the_hop_on_the_run(trace) == run_id


@pytest.mark.parametrize("mode", CALL_MODES)
def test_an_offline_answer_still_reports_its_hops(manager_for: Any, mode: str) -> None:
    llm = down_first(manager_for, offline_fallback="mock")
    for instance in llm.routed_instances():
        instance.models = SameModel(Down())
    trace = Trace()
    assert call(llm, mode, RunnableConfig(callbacks=[trace])) == "Mock reply to: hi"
    the_hop_on_the_run(trace)


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_cache_hit_is_one_run_without_hops(manager_for: Any, mode: str) -> None:
    llm = down_first(manager_for, cache={})
    call(llm, "invoke", RunnableConfig())  # routed once, with its hop, then kept
    trace = Trace()
    assert call(llm, mode, RunnableConfig(callbacks=[trace])) == "Mock reply to: hi"
    assert len(trace.runs) == 1 and trace.events == []
    assert RUN_ARGUMENT not in trace.runs[0][3]


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_a_stream_langchain_answers_by_invoking_reports_its_hop_once(
    manager_for: Any, mode: str
) -> None:
    llm = down_first(manager_for)
    llm.disable_streaming = True  # LangChain's stream() then calls invoke()
    trace = Trace()
    call(llm, mode, RunnableConfig(callbacks=[trace]))
    the_hop_on_the_run(trace)


class StreamingTrace(Trace):
    """A handler that wants tokens (what LangGraph's `stream_mode="messages"` attaches): with
    it, LangChain answers an invoke by streaming the model."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
        return output


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_an_invoke_langchain_streams_reports_its_hop_once(manager_for: Any, mode: str) -> None:
    llm = down_first(manager_for)
    trace = StreamingTrace()
    assert call(llm, mode, RunnableConfig(callbacks=[trace])) == "Mock reply to: hi"
    the_hop_on_the_run(trace)
    assert "".join(trace.tokens) == "Mock reply to: hi"  # it was streamed


def test_langchains_own_cache_keys_streamed_invokes_without_the_run(manager_for: Any) -> None:
    llm = down_first(manager_for)
    llm.cache = InMemoryCache()
    for _ in range(2):
        trace = StreamingTrace()
        assert call(llm, "invoke", RunnableConfig(callbacks=[trace])) == "Mock reply to: hi"
    assert trace.events == []  # the second call was LangChain's cache hit: nothing routed
