"""The wrapper as LangChain sees it: callbacks, LangGraph streaming, tools, structured output."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from pydantic import BaseModel, Field

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import StartSim, openai_model


class RunCounter(BaseCallbackHandler):
    """Counts chat-model runs and tokens reported to callbacks."""

    def __init__(self) -> None:
        self.starts: list[UUID] = []
        self.tokens: list[str] = []
        self.ends = 0

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **_: Any
    ) -> None:
        self.starts.append(run_id)

    def on_llm_new_token(self, token: str, **_: Any) -> None:
        self.tokens.append(token)

    def on_llm_end(self, response: Any, **_: Any) -> None:
        self.ends += 1


@pytest.fixture
def wrapper(start_sim: StartSim, manager_for: Any, dead_url: str) -> TaskGroupWrapper:
    good = start_sim("healthy")
    models = {"dead": openai_model(dead_url), "good": openai_model(good.base_url)}
    groups = {
        "g": {
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["good"]},
        }
    }
    return TaskGroupWrapper(
        name="g_wrapper", target="g", task_group_manager=manager_for(models, groups)
    )


def test_one_callback_run_per_call_even_after_failover(wrapper: TaskGroupWrapper) -> None:
    counter = RunCounter()
    wrapper.invoke("hello", config={"callbacks": [counter]})
    assert len(counter.starts) == 1
    assert counter.ends == 1


def test_streamed_tokens_reach_callbacks_once_each(wrapper: TaskGroupWrapper) -> None:
    counter = RunCounter()
    text = "".join(
        str(c.content) for c in wrapper.stream("one two", config={"callbacks": [counter]})
    )
    assert len(counter.starts) == 1
    assert "".join(counter.tokens) == text == "Simulated reply to: one two"


def test_langgraph_messages_stream_sees_each_token_once(wrapper: TaskGroupWrapper) -> None:
    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [wrapper.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("llm", call_model)
    builder.add_edge(START, "llm")
    graph = builder.compile()

    tokens = [
        str(chunk.content)
        for chunk, meta in graph.stream(
            {"messages": [HumanMessage("alpha beta gamma")]}, stream_mode="messages"
        )
        if isinstance(chunk, AIMessageChunk) and meta["langgraph_node"] == "llm"
    ]
    assert "".join(tokens) == "Simulated reply to: alpha beta gamma"
    words = ["Simulated", "reply", "to:", "alpha", "beta", "gamma"]
    assert len([t for t in tokens if t]) == len(words)


def test_async_langgraph_messages_stream_sees_each_token_once(wrapper: TaskGroupWrapper) -> None:
    async def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await wrapper.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("llm", call_model)
    builder.add_edge(START, "llm")
    graph = builder.compile()

    async def collect() -> list[str]:
        return [
            str(chunk.content)
            async for chunk, _ in graph.astream(
                {"messages": [HumanMessage("alpha beta")]}, stream_mode="messages"
            )
            if isinstance(chunk, AIMessageChunk)
        ]

    assert "".join(asyncio.run(collect())) == "Simulated reply to: alpha beta"


class Weather(BaseModel):
    """Weather for a city."""

    city: str = Field(description="city name")
    celsius: int


def test_bind_tools_produces_tool_calls(wrapper: TaskGroupWrapper) -> None:
    message = wrapper.bind_tools([Weather], tool_choice="Weather").invoke("weather in Paris?")
    assert message.tool_calls[0]["name"] == "Weather"
    assert set(message.tool_calls[0]["args"]) == {"city", "celsius"}


def test_with_structured_output_returns_the_schema(wrapper: TaskGroupWrapper) -> None:
    result = wrapper.with_structured_output(Weather).invoke("weather in Paris?")
    assert isinstance(result, Weather)


def test_usage_metadata_in_invoke_and_stream(wrapper: TaskGroupWrapper) -> None:
    message = wrapper.invoke("count these words")
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] > 0
    merged = None
    for chunk in wrapper.stream("count these words"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.usage_metadata is not None
    assert merged.usage_metadata["total_tokens"] == message.usage_metadata["total_tokens"]


def test_batch_and_abatch(wrapper: TaskGroupWrapper) -> None:
    replies = wrapper.batch(["a", "b", "c"])
    assert [r.content for r in replies] == [f"Simulated reply to: {x}" for x in "abc"]
    areplies = asyncio.run(wrapper.abatch(["d", "e"]))
    assert [r.content for r in areplies] == [f"Simulated reply to: {x}" for x in "de"]


def test_stats_count_and_reset(wrapper: TaskGroupWrapper) -> None:
    wrapper.invoke("a")
    wrapper.invoke("b")
    stats = wrapper.get_stats()
    assert stats["total_requests"] == 2
    assert stats["successful_requests"] == 2
    assert stats["fallbacks"] == 2
    assert stats["latency_p50"] is not None and stats["latency_p95"] >= stats["latency_p50"]
    assert stats["tokens"]["total"] > 0
    assert stats["per_instance"]["dead#0"] == {"requests": 2, "failures": 2, "error_rate": 1.0}
    wrapper.reset_stats()
    reset = wrapper.get_stats()
    assert reset["total_requests"] == 0 and reset["per_instance"] == {}


def test_repr_and_stats_hide_the_api_key(wrapper: TaskGroupWrapper) -> None:
    wrapper.invoke("a")
    assert "sk-test-secret" not in repr(wrapper)
    assert "sk-test-secret" not in str(wrapper.get_stats())
    assert "sk-test-secret" not in str(wrapper.health_check())
