"""The response cache on real `ChatOpenAI` over HTTP against the simulator: hits never reach
the server, streamed hits replay tokens and tool-call chunks faithfully (LangGraph sees each
token once), and only answers that completed are stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from infrastructure.llm import LLMWrapperFactory, TaskGroupWrapper
from infrastructure.llm.errors import StreamInterruptedError
from infrastructure.llm.sim import SimServer

from conftest import StartSim, openai_model, write_config
from routing_helpers import CALL_MODES, answer


def cached_wrapper(tmp_path: Path, *sims: SimServer, **cache: Any) -> TaskGroupWrapper:
    """Group `g` over the simulators, with a memory cache."""
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 0}, "cache": cache}}
    directory = write_config(
        tmp_path / "llms", {"m": openai_model(*(s.base_url for s in sims))}, groups
    )
    return LLMWrapperFactory.from_config_dir(directory).get_wrapper("g_wrapper")  # type: ignore[return-value]


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_hit_never_reaches_the_server(tmp_path: Path, start_sim: StartSim, mode: str) -> None:
    sim = start_sim("healthy")
    llm = cached_wrapper(tmp_path, sim)
    first = answer(llm, mode, "the same question")
    for again in CALL_MODES:
        assert answer(llm, again, "the same question") == first
    assert sim.stats.requests == 1
    assert llm.get_stats()["cache"]["exact_hits"] == 4


def test_streamed_tool_calls_and_usage_replay_as_they_came(
    tmp_path: Path, start_sim: StartSim
) -> None:
    sim = start_sim("healthy")
    llm = cached_wrapper(tmp_path, sim)

    def weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    tools = llm.bind_tools([weather], tool_choice="weather")
    prompt = "What is the weather in 'Paris'?"
    live = list(tools.stream(prompt, stream_usage=True))
    replay = list(tools.stream(prompt, stream_usage=True))
    assert sim.stats.requests == 1
    assert replay[0].response_metadata["routing"]["cache_hit"] == "exact"
    assert (
        "routing" not in live[0].response_metadata
        or live[0].response_metadata["routing"]["cache_hit"] is False
    )

    def parts(chunks: list[AIMessageChunk]) -> list[tuple[Any, ...]]:
        return [(c.content, c.tool_call_chunks, c.usage_metadata) for c in chunks]

    assert parts(replay) == parts(live)
    merged = sum(replay[1:], replay[0])
    assert merged.tool_calls[0]["name"] == "weather"
    assert merged.usage_metadata and merged.usage_metadata["total_tokens"] > 0
    invoked = tools.invoke(prompt, stream_usage=True)  # the streamed entry answers invoke too
    assert invoked.tool_calls == merged.tool_calls
    assert sim.stats.requests == 1


def test_langgraph_sees_each_cached_token_once(tmp_path: Path, start_sim: StartSim) -> None:
    sim = start_sim("healthy")
    llm = cached_wrapper(tmp_path, sim)

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("llm", call_model)
    builder.add_edge(START, "llm")
    graph = builder.compile()

    def tokens() -> list[str]:
        return [
            str(chunk.content)
            for chunk, meta in graph.stream(
                {"messages": [HumanMessage("alpha beta gamma")]}, stream_mode="messages"
            )
            if isinstance(chunk, AIMessageChunk) and meta["langgraph_node"] == "llm"
        ]

    live, cached = tokens(), tokens()
    assert sim.stats.requests == 1
    assert "".join(cached) == "".join(live) == "Simulated reply to: alpha beta gamma"
    assert len([t for t in cached if t]) == 6


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_an_interrupted_stream_is_never_stored(
    tmp_path: Path, start_sim: StartSim, mode: str
) -> None:
    sim = start_sim("cut_stream:3")
    llm = cached_wrapper(tmp_path, sim)
    for _ in range(2):
        with pytest.raises(StreamInterruptedError):
            answer(llm, mode, "one two three four five six")
    assert sim.stats.requests == 2
    assert llm.get_stats()["cache"]["stored"] == 0


def test_a_stream_the_caller_abandons_is_never_stored(tmp_path: Path, start_sim: StartSim) -> None:
    sim = start_sim("healthy")
    llm = cached_wrapper(tmp_path, sim)
    stream = llm.stream("one two three four five")
    next(stream)
    stream.close()
    assert answer(llm, "stream", "one two three four five") == (
        "Simulated reply to: one two three four five"
    )
    assert sim.stats.requests == 2


def test_a_failed_call_is_never_stored(tmp_path: Path, start_sim: StartSim) -> None:
    sim = start_sim("error_rate:1.0")
    llm = cached_wrapper(tmp_path, sim)
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017  # every instance failed
            llm.invoke("hi")
    assert llm.get_stats()["cache"]["stored"] == 0


def test_async_hits_across_event_loops(tmp_path: Path, start_sim: StartSim) -> None:
    sim = start_sim("healthy")
    llm = cached_wrapper(tmp_path, sim)
    first = asyncio.run(llm.ainvoke("loop question"))
    second = asyncio.run(llm.ainvoke("loop question"))
    assert second.content == first.content
    assert second.response_metadata["routing"]["cache_hit"] == "exact"
    assert sim.stats.requests == 1
