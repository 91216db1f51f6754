"""What a LangChain trace of a routed call shows: the routing facts in the run's outputs
(`generation_info["routing"]`, not only the message's metadata), each fallback hop as a
custom event on the run, invoked or streamed, and still one run per call (with the caller's
`run_id` when given, and one LangSmith run with tracing on), over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import langsmith
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tracers.langchain import LangChainTracer
from langgraph.graph import START, MessagesState, StateGraph

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.wrappers.run_events import FALLBACK_EVENT

from conftest import StartSim, openai_model, write_config

FACTS = {
    "group",
    "echelon",
    "instance",
    "attempts",
    "fallbacks",
    "hedged",
    "cache_hit",
    "latency_ms",
}


class Trace(BaseCallbackHandler):
    """What a tracer would record: runs started, their outputs, and custom events."""

    def __init__(self) -> None:
        self.runs: list[UUID] = []
        self.outputs: list[Any] = []
        self.events: list[tuple[str, Any, UUID]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self.runs.append(run_id)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.outputs.append(response)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


MODES = ["invoke", "ainvoke", "stream", "astream"]


def fallback_config(tmp_path: Path, start_sim: StartSim) -> Path:
    """A group whose first echelon answers 500 and whose second answers."""
    models = {
        "bad": openai_model(start_sim("error_rate:1.0").base_url),
        "good": openai_model(start_sim("healthy").base_url),
    }
    groups = {
        "g": {"echelon1": {"models": ["bad"], "max_retries": 0}, "echelon2": {"models": ["good"]}}
    }
    return write_config(tmp_path / "llms", models, groups)


def call_routed(tmp_path: Path, start_sim: StartSim, mode: str, config: RunnableConfig) -> None:
    """One call by `mode` to a group whose first echelon answers 500 and whose second answers."""
    directory = fallback_config(tmp_path, start_sim)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        llm = factory.get_wrapper("g_wrapper")
        if mode == "invoke":
            llm.invoke("hi", config=config)
        elif mode == "ainvoke":
            asyncio.run(llm.ainvoke("hi", config=config))
        elif mode == "stream":
            list(llm.stream("hi", config=config))
        else:

            async def consume() -> None:
                async for _ in llm.astream("hi", config=config):
                    pass

            asyncio.run(consume())


def call_streamed_by_langchain(
    tmp_path: Path, start_sim: StartSim, mode: str, config: RunnableConfig
) -> list[Any]:
    """The same call made inside a graph or chain that LangChain streams: a LangGraph node
    invoking the model under `stream_mode="messages"` (sync and async), or a chain invoking
    it under `astream_events`; what the stream yielded."""
    directory = fallback_config(tmp_path, start_sim)
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        llm = factory.get_wrapper("g_wrapper")
        if mode == "astream_events":
            chain = RunnableLambda(lambda text: llm.invoke(text))

            async def events() -> list[Any]:
                return [e async for e in chain.astream_events("hi", config, version="v2")]

            return asyncio.run(events())

        def node(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

        async def anode(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await llm.ainvoke(state["messages"])]}

        builder = StateGraph(MessagesState)
        builder.add_node("llm", anode if mode == "graph_async" else node)
        builder.add_edge(START, "llm")
        graph = builder.compile()
        given = {"messages": [HumanMessage("hi")]}
        if mode == "graph":
            return list(graph.stream(given, config, stream_mode="messages"))

        async def chunks() -> list[Any]:
            return [c async for c in graph.astream(given, config, stream_mode="messages")]

        return asyncio.run(chunks())


@pytest.mark.parametrize("mode", ["graph", "graph_async", "astream_events"])
def test_an_invoke_that_langchain_streams_reports_its_hops_too(
    tmp_path: Path, start_sim: StartSim, mode: str
) -> None:
    trace = Trace()
    streamed = call_streamed_by_langchain(
        tmp_path, start_sim, mode, RunnableConfig(callbacks=[trace])
    )
    run_id = the_hop_on_the_run(trace)
    if mode == "astream_events":
        [event] = [e for e in streamed if e["event"] == "on_custom_event"]
        assert (event["name"], event["run_id"]) == (FALLBACK_EVENT, str(run_id))
    else:  # the tokens still come through once each
        text = "".join(str(chunk.content) for chunk, _ in streamed)
        assert text == "Simulated reply to: hi"


def the_hop_on_the_run(trace: Trace) -> UUID:
    """Assert `trace` saw one run and one hop event on it; the run's id."""
    [run_id] = trace.runs
    [(name, data, event_run_id)] = trace.events
    assert (name, event_run_id) == (FALLBACK_EVENT, run_id)
    assert (data["from_target"], data["to_target"]) == ("g.echelon1", "g.echelon2")
    assert data["error_type"] and "500" in data["reason"]
    return run_id


@pytest.mark.parametrize("given_run_id", [False, True], ids=["new_run_id", "callers_run_id"])
@pytest.mark.parametrize("mode", MODES)
def test_routing_facts_and_hops_reach_the_trace(
    tmp_path: Path, start_sim: StartSim, mode: str, given_run_id: bool
) -> None:
    trace = Trace()
    config = RunnableConfig(callbacks=[trace])
    if given_run_id:
        config["run_id"] = uuid4()
    call_routed(tmp_path, start_sim, mode, config)
    assert len(trace.runs) == 1 and len(trace.outputs) == 1
    routing = trace.outputs[0].generations[0][0].generation_info["routing"]
    assert routing.keys() >= FACTS
    assert (routing["instance"], routing["echelon"], routing["fallbacks"]) == ("good#0", 2, 1)
    run_id = the_hop_on_the_run(trace)
    if given_run_id:
        assert run_id == config["run_id"]


class Client:
    """A LangSmith client that keeps the ids of the runs it is sent."""

    def __init__(self) -> None:
        self.created: list[UUID] = []

    def create_run(self, **run: Any) -> None:
        self.created.append(run["id"])

    def update_run(self, run_id: UUID, **run: Any) -> None:
        pass


@pytest.mark.parametrize("mode", MODES)
def test_with_tracing_on_the_tracer_of_the_run_gets_its_hops(
    tmp_path: Path, start_sim: StartSim, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `LANGSMITH_TRACING=true`, LangChain makes the env tracer once per call (not once
    for the run and once for the events), and the events reach a tracer holding the run: the
    run's own, or (streamed) the one LangChain copied it from, which shares its map of runs."""
    holding: list[bool] = []

    def on_custom_event(tracer: LangChainTracer, name: str, data: Any, **kwargs: Any) -> None:
        holding.append(str(kwargs["run_id"]) in tracer.run_map)

    monkeypatch.setattr(LangChainTracer, "on_custom_event", on_custom_event, raising=False)
    trace, client = Trace(), Client()
    try:
        with monkeypatch.context() as env:
            env.setenv("LANGSMITH_TRACING", "true")
            langsmith.utils.get_env_var.cache_clear()  # it caches what it read
            with langsmith.tracing_context(client=client, project_name="run-events"):
                call_routed(tmp_path, start_sim, mode, RunnableConfig(callbacks=[trace]))
    finally:
        langsmith.utils.get_env_var.cache_clear()
    assert client.created == [the_hop_on_the_run(trace)] and holding == [True]
