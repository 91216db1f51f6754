"""Structured output through a wrapper over real `ChatOpenAI` instances and the simulator:
what each `method` puts in the request body, compared with a direct `ChatOpenAI` on the same
simulator, and what comes back, invoked and streamed, sync and async."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from infrastructure.llm.fleet.polling_pool_manager import PollingPoolManager
from infrastructure.llm.sim import SimServer
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import API_KEY, StartSim, openai_model

# json_mode sends no schema: the simulator fills the keys the prompt quotes.
PROMPT = "Tell me a joke about cats, as JSON with 'setup' and 'punchline' keys."
# The fields that say how structured output was asked for.
FORMAT_FIELDS = ("response_format", "tools", "tool_choice", "parallel_tool_calls")


class Joke(BaseModel):
    """A joke to tell."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


class JokeDict(TypedDict):
    """A joke to tell."""

    setup: Annotated[str, ..., "question to set up a joke"]
    punchline: Annotated[str, ..., "answer to resolve the joke"]


SCHEMAS: dict[str, Any] = {
    "pydantic": Joke,
    "typeddict": JokeDict,
    "json_schema_dict": Joke.model_json_schema(),
}
CASES = [
    (method, kind, strict)
    for method in ("json_schema", "function_calling", "json_mode")
    for kind in SCHEMAS
    for strict in ((None,) if method == "json_mode" else (None, True))
]


@pytest.fixture
def sim(start_sim: StartSim) -> SimServer:
    return start_sim("healthy")


@pytest.fixture
def wrapper(sim: SimServer, manager_for: Any) -> TaskGroupWrapper:
    models = {"m": openai_model(sim.base_url)}
    manager = manager_for(models, {"g": {"echelon1": {"models": ["m"]}}})
    return TaskGroupWrapper(target="g", task_group_manager=manager)


@pytest.fixture
def direct(sim: SimServer) -> ChatOpenAI:
    return ChatOpenAI(model="sim-model", base_url=sim.base_url, api_key=API_KEY, max_retries=0)


def sent(sim: SimServer, call: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """What `call` returns, and the body of the one chat-completion request it made."""
    sim.reset_stats()
    result = call()
    [request] = sim.requests
    return result, request.body


def format_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in FORMAT_FIELDS if key in body}


def assert_joke(value: Any, schema: Any) -> None:
    if schema is Joke:
        assert isinstance(value, Joke)
    else:
        assert isinstance(value, dict)
        assert set(value) == {"setup", "punchline"}
        assert all(isinstance(v, str) for v in value.values())


def assert_asked_by(method: str, body: dict[str, Any], strict: bool | None) -> None:
    """The body asks for structured output the way `method` should, and no other way."""
    if method == "function_calling":
        assert "response_format" not in body
        [tool] = body["tools"]
        name = tool["function"]["name"]
        assert body["tool_choice"] == {"type": "function", "function": {"name": name}}
        assert body["parallel_tool_calls"] is False
        assert tool["function"].get("strict") is strict
        return
    assert "tools" not in body
    assert "tool_choice" not in body
    if method == "json_mode":
        assert body["response_format"] == {"type": "json_object"}
        return
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    json_schema = response_format["json_schema"]
    assert set(json_schema["schema"]["properties"]) == {"setup", "punchline"}
    assert isinstance(json_schema["name"], str)
    assert json_schema["strict"] is bool(strict)


@pytest.mark.parametrize(("method", "kind", "strict"), CASES)
def test_each_method_sends_what_chat_openai_sends_and_parses_the_answer(
    sim: SimServer,
    wrapper: TaskGroupWrapper,
    direct: ChatOpenAI,
    method: str,
    kind: str,
    strict: bool | None,
) -> None:
    schema = SCHEMAS[kind]
    options: dict[str, Any] = {"method": method, "strict": strict}
    if method == "json_mode":
        del options["strict"]
    result, body = sent(
        sim, lambda: wrapper.with_structured_output(schema, **options).invoke(PROMPT)
    )
    expected, direct_body = sent(
        sim, lambda: direct.with_structured_output(schema, **options).invoke(PROMPT)
    )
    assert_joke(result, schema)
    assert result == expected
    assert format_fields(body) == format_fields(direct_body)
    # ChatOpenAI (the OpenAI SDK) sends a pydantic class strict, whatever `strict` says.
    sent_strict = True if method == "json_schema" and kind == "pydantic" else strict
    assert_asked_by(method, body, sent_strict)


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
@pytest.mark.parametrize("kind", ["pydantic", "typeddict"])
def test_streamed_structured_output_asks_the_same_way(
    sim: SimServer, wrapper: TaskGroupWrapper, direct: ChatOpenAI, method: str, kind: str
) -> None:
    schema = SCHEMAS[kind]
    chunks, body = sent(
        sim, lambda: list(wrapper.with_structured_output(schema, method=method).stream(PROMPT))
    )
    expected, direct_body = sent(
        sim, lambda: list(direct.with_structured_output(schema, method=method).stream(PROMPT))
    )
    assert body["stream"] is True
    assert format_fields(body) == format_fields(direct_body)
    assert chunks, "the stream gave nothing"
    assert_joke(chunks[-1], schema)
    assert chunks[-1] == expected[-1]
    if method == "json_schema" and kind == "pydantic":
        assert len(chunks) == 1  # the complete object only, as ChatOpenAI gives it


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
async def test_async_calls_ask_the_same_way(
    sim: SimServer, wrapper: TaskGroupWrapper, method: str
) -> None:
    structured = wrapper.with_structured_output(Joke, method=method)
    sim.reset_stats()
    result = await structured.ainvoke(PROMPT)
    chunks = [chunk async for chunk in structured.astream(PROMPT)]
    assert isinstance(result, Joke)
    assert chunks[-1] == result
    invoked, streamed = (request.body for request in sim.requests)
    assert streamed["stream"] is True
    assert format_fields(invoked) == format_fields(streamed)
    assert_asked_by(method, invoked, True if method == "json_schema" else None)


def test_default_method_is_chat_openais_json_schema(
    sim: SimServer, wrapper: TaskGroupWrapper, direct: ChatOpenAI
) -> None:
    _, body = sent(sim, lambda: wrapper.with_structured_output(JokeDict).invoke(PROMPT))
    _, direct_body = sent(sim, lambda: direct.with_structured_output(JokeDict).invoke(PROMPT))
    assert body["response_format"]["type"] == "json_schema"
    assert format_fields(body) == format_fields(direct_body)


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_include_raw_gives_the_message_and_the_parsed_answer(
    sim: SimServer, wrapper: TaskGroupWrapper, method: str
) -> None:
    structured = wrapper.with_structured_output(Joke, method=method, include_raw=True)
    result, body = sent(sim, lambda: structured.invoke(PROMPT))
    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert isinstance(result["raw"], AIMessage)
    assert result["raw"].response_metadata["routing"]["instance"] == "m#0"
    assert isinstance(result["parsed"], Joke)
    assert result["parsing_error"] is None
    assert_asked_by(method, body, True if method == "json_schema" else None)


def test_include_raw_keeps_an_answer_that_does_not_parse(
    sim: SimServer, wrapper: TaskGroupWrapper
) -> None:
    # json_mode asks for any JSON object; told no keys, the simulator answers {"answer": ...}.
    structured = wrapper.with_structured_output(Joke, method="json_mode", include_raw=True)
    result = structured.invoke("Tell me a joke.")
    assert result["parsed"] is None
    assert "answer" in str(result["raw"].content)
    assert "validation error" in str(result["parsing_error"])


def test_json_schema_with_tools_offers_them_beside_the_response_format(
    sim: SimServer, wrapper: TaskGroupWrapper, direct: ChatOpenAI
) -> None:
    """As ChatOpenAI documents it: with `tools`, use `include_raw=True`; a tool call is in
    `raw`, and a pydantic schema then parses to None."""

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    options = {"method": "json_schema", "tools": [get_weather], "strict": True}
    options["include_raw"] = True
    result, body = sent(sim, lambda: wrapper.with_structured_output(Joke, **options).invoke("x"))
    _, direct_body = sent(sim, lambda: direct.with_structured_output(Joke, **options).invoke("x"))
    assert body["response_format"]["type"] == "json_schema"
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert format_fields(body) == format_fields(direct_body)
    # The simulator calls a tool whenever tools are offered and tool_choice allows it.
    assert result["raw"].tool_calls[0]["name"] == "get_weather"
    assert result["parsed"] is None
    assert result["parsing_error"] is None


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
def test_a_bound_pydantic_response_format_sends_the_same_schema_and_parses_either_way(
    sim: SimServer, wrapper: TaskGroupWrapper
) -> None:
    """Binding the class makes each inner ChatOpenAI hand it to the SDK's `parse()`; the
    body matches the dict `with_structured_output` binds, and the answer reads the same."""
    _, dict_body = sent(sim, lambda: wrapper.with_structured_output(Joke).invoke(PROMPT))
    by_class = wrapper.bind(response_format=Joke)
    message, class_body = sent(sim, lambda: by_class.invoke(PROMPT))
    assert class_body["response_format"] == dict_body["response_format"]
    assert Joke.model_validate_json(str(message.content)) == message.additional_kwargs["parsed"]
    streamed = "".join(str(chunk.content) for chunk in by_class.stream(PROMPT))
    assert Joke.model_validate_json(streamed) == message.additional_kwargs["parsed"]


def test_every_instance_of_the_echelon_gets_the_same_request(
    start_sim: StartSim, manager_for: Any
) -> None:
    sims = [start_sim("healthy"), start_sim("healthy")]
    models = {"m": openai_model(*(s.base_url for s in sims))}
    manager = manager_for(models, {"g": {"echelon1": {"models": ["m"]}}})
    structured = TaskGroupWrapper(target="g", task_group_manager=manager).with_structured_output(
        JokeDict, strict=True
    )
    for _ in sims:
        assert set(structured.invoke(PROMPT)) == {"setup", "punchline"}
    [first], [second] = (s.requests for s in sims)  # round robin: one call each
    assert first.body["response_format"] == second.body["response_format"]
    assert first.body["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_a_polling_pool_asks_the_same_way(
    sim: SimServer, manager_for: Any, direct: ChatOpenAI, method: str
) -> None:
    models = {"m": openai_model(sim.base_url)}
    manager = manager_for(
        models, {"g": {"echelon1": {"models": ["m"]}}}, {"p": {"task_groups": ["g"]}}
    )
    pool = PollingPoolWrapper(name="p_wrapper", polling_pool_manager=PollingPoolManager(manager))
    structured = pool.with_structured_output(Joke, method=method)
    result, body = sent(sim, lambda: structured.invoke(PROMPT))
    _, direct_body = sent(
        sim, lambda: direct.with_structured_output(Joke, method=method).invoke(PROMPT)
    )
    assert isinstance(result, Joke)
    assert format_fields(body) == format_fields(direct_body)
