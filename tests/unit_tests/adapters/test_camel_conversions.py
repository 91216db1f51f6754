"""The CAMEL adapter's conversions, which need no camel-ai: CAMEL's request as a wrapper call,
the wrapper's answer and stream as OpenAI completions and chunks; and the error that names the
`camel` extra when camel-ai is missing."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel

from infrastructure.llm.adapters.camel.completions import (
    acompletion_chunks,
    chat_completion,
    completion_chunks,
)
from infrastructure.llm.adapters.camel.request import wrapper_call
from infrastructure.llm.adapters.camel.requirement import require_camel
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

USAGE = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
TOOL = {
    "type": "function",
    "function": {
        "name": "multiply",
        "description": "Multiply two integers.",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
    },
}


@pytest.fixture
def wrapper(manager_for: Any) -> TaskGroupWrapper:
    models = {"m": {"provider": "mock", "model": "echo"}}
    manager = manager_for(models, {"g": {"echelon1": {"models": ["m"]}}})
    return TaskGroupWrapper(target="g", task_group_manager=manager)


def test_an_answer_with_a_tool_call_becomes_a_chat_completion() -> None:
    message = AIMessage(
        content="",
        tool_calls=[{"name": "multiply", "args": {"a": 3}, "id": "call_1"}],
        usage_metadata=USAGE,
        response_metadata={"model_name": "sim-model", "finish_reason": "tool_calls"},
        id="chatcmpl-42",
    )
    completion = chat_completion(message, "g_wrapper")
    assert (completion.id, completion.model) == ("chatcmpl-42", "sim-model")
    choice = completion.choices[0]
    assert (choice.finish_reason, choice.message.role, choice.message.content) == (
        "tool_calls",
        "assistant",
        None,
    )
    (call,) = choice.message.tool_calls or []
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "multiply")
    assert json.loads(call.function.arguments) == {"a": 3}
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)


def test_a_text_answer_says_stop_and_gets_an_id_of_its_own() -> None:
    completion = chat_completion(AIMessage(content="hello", id="run-1"), "g_wrapper")
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason, choice.message.tool_calls) == (
        "hello",
        "stop",
        None,
    )
    assert completion.id.startswith("chatcmpl-") and completion.model == "g_wrapper"
    assert completion.usage is None


def streamed() -> list[AIMessageChunk]:
    """What a wrapper streams for a tool call: the call opened, its arguments in pieces, usage."""
    return [
        AIMessageChunk(
            content="",
            tool_call_chunks=[{"name": "multiply", "args": "", "id": "call_1", "index": 0}],
            id="chatcmpl-7",
        ),
        AIMessageChunk(content="", tool_call_chunks=[{"args": '{"a": ', "index": 0}]),
        AIMessageChunk(content="", tool_call_chunks=[{"args": "3}", "index": 0}]),
        AIMessageChunk(
            content="",
            usage_metadata=USAGE,
            response_metadata={"finish_reason": "tool_calls", "model_name": "sim-model"},
        ),
    ]


def check_chunks(chunks: list[Any]) -> None:
    assert {c.id for c in chunks} == {"chatcmpl-7"}
    deltas = [c.choices[0].delta for c in chunks]
    assert [d.role for d in deltas] == ["assistant", None, None, None]
    first = deltas[0].tool_calls[0]
    assert (first.index, first.id, first.function.name) == (0, "call_1", "multiply")
    arguments = "".join(d.tool_calls[0].function.arguments for d in deltas[:3])
    assert json.loads(arguments) == {"a": 3}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 10
    assert chunks[-1].model == "sim-model"


def test_a_streamed_tool_call_becomes_openai_chunks() -> None:
    check_chunks(list(completion_chunks(streamed(), "g_wrapper")))


def test_an_async_stream_becomes_openai_chunks() -> None:
    async def source() -> AsyncIterator[AIMessageChunk]:
        for chunk in streamed():
            yield chunk

    async def collect() -> list[Any]:
        return [c async for c in acompletion_chunks(source(), "g_wrapper")]

    check_chunks(asyncio.run(collect()))


def test_a_camel_request_becomes_a_wrapper_call(wrapper: TaskGroupWrapper) -> None:
    messages = [
        {"role": "user", "content": "multiply 3"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "multiply", "arguments": '{"a": 3}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "9"},
    ]
    config = {"temperature": 0.2, "stream": True, "tool_choice": "auto", "max_tokens": 50}
    call = wrapper_call(wrapper, messages, config, [TOOL], None)
    assert call.kwargs == {"temperature": 0.2, "max_tokens": 50}
    human, ai, tool = call.messages
    assert isinstance(human, HumanMessage) and isinstance(tool, ToolMessage)
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls == [
        {"name": "multiply", "args": {"a": 3}, "id": "call_1", "type": "tool_call"}
    ]
    bound = call.model.kwargs  # type: ignore[attr-defined]
    assert bound["tools"][0]["function"]["name"] == "multiply"
    assert bound["tool_choice"] == "auto"


def test_without_tools_the_wrapper_itself_is_called(wrapper: TaskGroupWrapper) -> None:
    call = wrapper_call(wrapper, [{"role": "user", "content": "hi"}], {}, None, None)
    assert call.model is wrapper and call.kwargs == {}


def test_a_response_format_class_is_sent_as_a_json_schema(wrapper: TaskGroupWrapper) -> None:
    class Answer(BaseModel):
        value: int

    call = wrapper_call(wrapper, [{"role": "user", "content": "hi"}], {}, None, Answer)
    schema = call.kwargs["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["name"] == "Answer"
    assert schema["json_schema"]["schema"]["properties"] == {
        "value": {"title": "Value", "type": "integer"}
    }


def test_without_camel_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_camel(name: str, *args: Any) -> Any:
        return None if name == "camel" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_camel)
    with pytest.raises(LLMWrapperError, match=r"pip install 'langchain-llm-wrappers\[camel\]'"):
        require_camel()
