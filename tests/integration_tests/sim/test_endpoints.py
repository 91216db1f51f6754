"""A healthy simulator through the real openai client and ChatOpenAI: the OpenAI contract."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from infrastructure.llm.sim import SimServer

USER = [{"role": "user", "content": "hello there"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 2},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {}}}


def _chat(sim: SimServer, **params: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="sim-model", base_url=sim.base_url, api_key="sk-test", max_retries=0, **params
    )


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_completion_echoes_model_and_counts_words(sim: SimServer, client: openai.OpenAI) -> None:
    result = client.chat.completions.create(model="any-model", messages=USER)
    assert result.model == "any-model"
    assert result.object == "chat.completion"
    assert result.id.startswith("chatcmpl-")
    choice = result.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Simulated reply to: hello there"
    assert choice.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2, 5)
    assert result.usage.total_tokens == 7
    assert sim.stats.completed == 1


def test_configured_reply_and_multimodal_text_parts() -> None:
    with SimServer(reply="Fixed answer.", model_name="served") as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="k", max_retries=0)
        content = [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
        result = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": content}]
        )
        assert result.choices[0].message.content == "Fixed answer."
        assert result.usage is not None and result.usage.prompt_tokens == 1
        assert [m.id for m in client.models.list()] == ["served"]


def test_stream_sends_words_finish_and_usage_chunks(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    content = [c.choices[0].delta.content for c in chunks if c.choices]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(filter(None, content)) == "Simulated reply to: hello there"
    assert len([c for c in content if c]) == 5
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None and usage_chunk.usage.total_tokens == 7
    assert {c.model for c in chunks} == {"m"}


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)


def test_stop_sequence_and_max_tokens(client: openai.OpenAI) -> None:
    stopped = client.chat.completions.create(model="m", messages=USER, stop=["to:"])
    assert stopped.choices[0].message.content == "Simulated reply "
    assert stopped.choices[0].finish_reason == "stop"
    limited = client.chat.completions.create(model="m", messages=USER, max_tokens=2)
    assert limited.choices[0].message.content == "Simulated reply "
    assert limited.choices[0].finish_reason == "length"
    assert limited.usage is not None and limited.usage.completion_tokens == 2
    newer = client.chat.completions.create(model="m", messages=USER, max_completion_tokens=1)
    assert newer.choices[0].message.content == "Simulated "


def test_tool_call_fills_the_schema(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Weather for 'Paris', use get_weather"}],
        tools=[TIME_TOOL, WEATHER_TOOL],
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"  # named in the message
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius", "days": 2}


def test_tool_choice_names_the_tool_and_none_disables_tools(client: openai.OpenAI) -> None:
    named = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "use get_weather"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = named.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "get_time"
    assert json.loads(calls[0].function.arguments) == {}
    none = client.chat.completions.create(
        model="m", messages=USER, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content == "Simulated reply to: hello there"
    first = client.chat.completions.create(
        model="m", messages=USER, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required"
    )
    first_calls = first.choices[0].message.tool_calls
    assert first_calls is not None and first_calls[0].function.name == "get_weather"


def test_unknown_tool_choice_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'missing', which is not in 'tools'"):
        client.chat.completions.create(
            model="m",
            messages=USER,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "missing"}},
        )


def test_streamed_tool_call_assembles_in_pieces(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="m", messages=USER, tools=[WEATHER_TOOL], stream=True)
    )
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert len(deltas) > 2
    opening = deltas[0][0]
    assert opening.id and opening.function is not None
    assert opening.function.name == "get_weather"
    arguments = "".join(d[0].function.arguments or "" for d in deltas if d[0].function)
    assert json.loads(arguments)["unit"] == "celsius"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_result_gets_a_text_answer_through_chat_openai(sim: SimServer) -> None:
    model = _chat(sim).bind_tools([WEATHER_TOOL])
    question = HumanMessage("What is the weather in Oslo?")
    call_message = model.invoke([question])
    assert isinstance(call_message, AIMessage)
    (call,) = call_message.tool_calls
    assert call["name"] == "get_weather"
    answer = model.invoke(
        [question, call_message, ToolMessage("rainy, 4 degrees", tool_call_id=call["id"])]
    )
    assert answer.tool_calls == []
    assert answer.text == "The tool returned: rainy, 4 degrees"


class Joke(BaseModel):
    setup: str
    punchline: str | None = None


def test_structured_output_via_json_schema_and_function_calling(sim: SimServer) -> None:
    for method in ("json_schema", "function_calling"):
        joke = _chat(sim).with_structured_output(Joke, method=method).invoke("A joke")
        assert joke == Joke(setup="example setup", punchline="example punchline")


def test_json_object_uses_keys_quoted_in_the_prompt(client: openai.OpenAI) -> None:
    keyed = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Answer as JSON with 'title' and \"score\" keys"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(keyed.choices[0].message.content or "") == {
        "title": "example title",
        "score": "example score",
    }
    plain = client.chat.completions.create(
        model="m", messages=USER, response_format={"type": "json_object"}
    )
    assert json.loads(plain.choices[0].message.content or "") == {
        "answer": "Simulated reply to: hello there"
    }


def test_models_and_health(sim: SimServer, client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models] == ["sim-model"]
    assert _get(f"http://127.0.0.1:{sim.port}/health") == (200, {"status": "ok"})
    assert sim.stats.requests == 0  # only chat completions are counted


def test_path_prefixes_route_to_the_same_endpoints(sim: SimServer) -> None:
    prefixed = f"http://127.0.0.1:{sim.port}/instance-7/v1"
    client = openai.OpenAI(base_url=prefixed, api_key="k", max_retries=0)
    assert client.chat.completions.create(model="m", messages=USER).choices
    unprefixed = openai.OpenAI(base_url=f"http://127.0.0.1:{sim.port}", api_key="k")
    assert unprefixed.chat.completions.create(model="m", messages=USER).choices


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON body"),
        (b"[1, 2]", "request body must be a JSON object"),
        (b'{"model": "m", "messages": []}', "'messages' must be a non-empty list"),
        (b'{"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}', "max_tokens"),
        (b'{"model": "m", "messages": [{"role": "user"}], "stop": 5}', "'stop' must be"),
    ],
)
def test_invalid_requests_get_a_400_with_a_clear_message(
    sim: SimServer, body: bytes, message: str
) -> None:
    request = urllib.request.Request(f"{sim.base_url}/chat/completions", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    error = json.loads(info.value.read())["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"
    assert sim.stats.bad_requests == 1


def test_unknown_path_and_wrong_method(sim: SimServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{sim.base_url}/audio/speech", timeout=5)
    assert missing.value.code == 404
    for path in ("/chat/completions", "/embeddings"):
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(f"{sim.base_url}{path}", timeout=5)
        assert wrong.value.code == 405
