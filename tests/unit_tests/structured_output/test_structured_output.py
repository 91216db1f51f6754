"""`with_structured_output` on the wrappers, in-process: what each `method` binds, how the
answer is parsed (invoke, stream, async), `include_raw`, and mock-provider instances.

OpenAI-compatible instances here get a scripted chat model in place of `ChatOpenAI`; what
reaches a real server is checked in tests/integration_tests/structured_output.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1
from typing_extensions import TypedDict

from infrastructure.llm.providers.chat_models import SameModel
from infrastructure.llm.wrappers.structured_output import json_schema_format
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conftest import openai_model

UNUSED_URL = "http://127.0.0.1:9/v1"  # never called: the instance's model is replaced
METHODS = ("json_schema", "function_calling", "json_mode")
CALL_MODES = ("invoke", "ainvoke", "stream", "astream")
JOKE = {"setup": "Why did the cat sit on the computer?", "punchline": "To watch the mouse."}


class Joke(BaseModel):
    """A joke to tell."""

    setup: str = Field(description="question to set up a joke")
    punchline: str | None = Field(default=None, description="answer to resolve the joke")


class JokeDict(TypedDict):
    """A joke to tell."""

    setup: Annotated[str, ..., "question to set up a joke"]
    punchline: Annotated[str, ..., "answer to resolve the joke"]


class Scripted(BaseChatModel):
    """Gives `answer` (streamed four characters at a time) and notes each call's kwargs."""

    answer: AIMessage
    fail: bool = False
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self._note(kw)
        return ChatResult(generations=[ChatGeneration(message=self.answer.model_copy(deep=True))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        self._note(kw)
        text = str(self.answer.content)
        for start in range(0, len(text), 4):
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[start : start + 4]))
        for index, call in enumerate(self.answer.tool_calls):
            chunk = tool_call_chunk(
                name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=index
            )
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[chunk]))

    def _note(self, kwargs: dict[str, Any]) -> None:
        self.calls.append(kwargs)
        if self.fail:
            raise ConnectionRefusedError("scripted instance is down")


def content_answer(value: Any = JOKE) -> AIMessage:
    return AIMessage(content=json.dumps(value))


def tool_answer(name: str, args: dict[str, Any] = JOKE) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "call_1"}])


def call(runnable: Any, mode: str, prompt: str = "a joke") -> Any:
    """The result of `runnable` called by `mode`; for streams, the last chunk."""
    if mode == "invoke":
        return runnable.invoke(prompt)
    if mode == "stream":
        return list(runnable.stream(prompt))[-1]

    async def run() -> Any:
        if mode == "ainvoke":
            return await runnable.ainvoke(prompt)
        return [chunk async for chunk in runnable.astream(prompt)][-1]

    return asyncio.run(run())


@pytest.fixture
def wrapper_with(manager_for: Any) -> Any:
    """A wrapper over one OpenAI-compatible instance answering `answer`, and its model."""

    def build(answer: AIMessage) -> tuple[TaskGroupWrapper, Scripted]:
        models = {"oa": openai_model(UNUSED_URL)}
        manager = manager_for(models, {"g": {"echelon1": {"models": ["oa"]}}})
        wrapper = TaskGroupWrapper(target="g", task_group_manager=manager)
        scripted = Scripted(answer=answer)
        [instance] = wrapper.routed_instances()
        instance.models = SameModel(scripted)
        return wrapper, scripted

    return build


@pytest.fixture
def mock_wrapper(manager_for: Any) -> TaskGroupWrapper:
    models = {"mk": {"provider": "mock", "model": "mock"}}
    manager = manager_for(models, {"g": {"echelon1": {"models": ["mk"]}}})
    return TaskGroupWrapper(target="g", task_group_manager=manager)


# --- what each method binds -------------------------------------------------------------------


@pytest.mark.parametrize("mode", CALL_MODES)
def test_json_schema_sends_a_response_format_and_parses_the_content(
    wrapper_with: Any, mode: str
) -> None:
    wrapper, scripted = wrapper_with(content_answer())
    assert call(wrapper.with_structured_output(Joke), mode) == Joke(**JOKE)
    [kwargs] = scripted.calls
    assert kwargs["response_format"] == type_to_response_format_param(Joke)  # as the SDK sends
    assert not {"tools", "tool_choice", "ls_structured_output_format"} & set(kwargs)


@pytest.mark.parametrize("mode", CALL_MODES)
def test_json_mode_sends_a_json_object_response_format(wrapper_with: Any, mode: str) -> None:
    wrapper, scripted = wrapper_with(content_answer())
    assert call(wrapper.with_structured_output(JokeDict, method="json_mode"), mode) == JOKE
    [kwargs] = scripted.calls
    assert kwargs["response_format"] == {"type": "json_object"}
    assert "tools" not in kwargs


@pytest.mark.parametrize("mode", CALL_MODES)
def test_function_calling_forces_the_schema_as_a_tool(wrapper_with: Any, mode: str) -> None:
    wrapper, scripted = wrapper_with(tool_answer("Joke"))
    structured = wrapper.with_structured_output(Joke, method="function_calling", strict=True)
    assert call(structured, mode) == Joke(**JOKE)
    [kwargs] = scripted.calls
    [tool] = kwargs["tools"]
    assert tool["function"]["name"] == "Joke"
    assert tool["function"]["strict"] is True
    assert kwargs["tool_choice"] == {"type": "function", "function": {"name": "Joke"}}
    assert kwargs["parallel_tool_calls"] is False
    assert "response_format" not in kwargs


def test_a_dict_schema_gives_dicts_with_every_method(wrapper_with: Any) -> None:
    schema = Joke.model_json_schema()
    for method in METHODS:
        answer = tool_answer("Joke") if method == "function_calling" else content_answer()
        wrapper, _ = wrapper_with(answer)
        assert wrapper.with_structured_output(schema, method=method).invoke("a joke") == JOKE


def test_json_mode_takes_no_schema(wrapper_with: Any) -> None:
    wrapper, _ = wrapper_with(content_answer({"anything": 1}))
    assert wrapper.with_structured_output(None, method="json_mode").invoke("x") == {"anything": 1}


def test_streamed_pydantic_json_schema_comes_once_complete_and_dicts_grow(
    wrapper_with: Any,
) -> None:
    wrapper, _ = wrapper_with(content_answer())
    assert list(wrapper.with_structured_output(Joke).stream("x")) == [Joke(**JOKE)]
    partial = list(wrapper.with_structured_output(JokeDict).stream("x"))
    assert len(partial) > 1
    assert partial[-1] == JOKE


def test_the_requested_format_reaches_callbacks_and_not_the_model(wrapper_with: Any) -> None:
    seen: list[dict[str, Any]] = []

    class Options(BaseCallbackHandler):
        def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs["invocation_params"])

    wrapper, scripted = wrapper_with(content_answer())
    structured = wrapper.with_structured_output(JokeDict, strict=True)
    structured.invoke("x", config={"callbacks": [Options()]})
    assert seen[0]["response_format"]["json_schema"]["strict"] is True
    assert "ls_structured_output_format" not in scripted.calls[0]


# --- response_format for each kind of schema --------------------------------------------------


def test_json_schema_format_of_a_typeddict_follows_strict() -> None:
    for strict in (None, False, True):
        json_schema = json_schema_format(JokeDict, strict)["json_schema"]
        assert json_schema["name"] == "JokeDict"
        assert json_schema["strict"] is bool(strict)
        assert json_schema["schema"]["required"] == ["setup", "punchline"]
        assert ("additionalProperties" in json_schema["schema"]) is bool(strict)


def test_json_schema_format_of_a_pydantic_class_is_always_strict_as_the_sdk_makes_it() -> None:
    for strict in (None, False, True):
        assert json_schema_format(Joke, strict) == type_to_response_format_param(Joke)


def test_json_schema_format_keeps_a_schema_already_in_response_format_shape() -> None:
    named = {"name": "joke", "schema": {"type": "object"}, "strict": True}
    assert json_schema_format(named, None) == {"type": "json_schema", "json_schema": named}
    full = {"type": "json_schema", "json_schema": named}
    assert json_schema_format(full, None) is full


def test_json_schema_format_of_a_dict_takes_its_own_strict() -> None:
    schema = {**Joke.model_json_schema(), "strict": True}
    assert json_schema_format(schema, None)["json_schema"]["strict"] is True


# --- arguments as ChatOpenAI takes them -------------------------------------------------------


def test_bad_arguments_are_refused_as_chat_openai_refuses_them(wrapper_with: Any) -> None:
    wrapper, _ = wrapper_with(content_answer())
    with pytest.raises(ValueError, match="strict"):
        wrapper.with_structured_output(Joke, method="json_mode", strict=True)
    with pytest.raises(ValueError, match="schema must be given"):
        wrapper.with_structured_output(None)
    with pytest.raises(ValueError, match="method must be"):
        wrapper.with_structured_output(Joke, method="xml")


def test_a_pydantic_v1_model_falls_back_to_function_calling(wrapper_with: Any) -> None:
    class OldJoke(BaseModelV1):
        setup: str
        punchline: str

    wrapper, scripted = wrapper_with(tool_answer("OldJoke"))
    with pytest.warns(UserWarning, match="function_calling"):
        structured = wrapper.with_structured_output(OldJoke)
    assert structured.invoke("x") == OldJoke(**JOKE)
    assert scripted.calls[0]["tool_choice"]["function"]["name"] == "OldJoke"


def test_other_kwargs_are_bound_to_the_model(wrapper_with: Any) -> None:
    wrapper, scripted = wrapper_with(content_answer())
    wrapper.with_structured_output(Joke, temperature=0.0).invoke("x")
    assert scripted.calls[0]["temperature"] == 0.0


# --- include_raw --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_include_raw_gives_raw_parsed_and_no_error(wrapper_with: Any, method: str) -> None:
    answer = tool_answer("Joke") if method == "function_calling" else content_answer()
    wrapper, _ = wrapper_with(answer)
    result = wrapper.with_structured_output(Joke, method=method, include_raw=True).invoke("x")
    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert isinstance(result["raw"], AIMessage)
    assert result["raw"].response_metadata["routing"]["instance"] == "oa#0"
    assert result["parsed"] == Joke(**JOKE)
    assert result["parsing_error"] is None


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_include_raw_keeps_an_answer_that_does_not_parse(wrapper_with: Any, method: str) -> None:
    wrapper, _ = wrapper_with(AIMessage(content="not json"))
    result = wrapper.with_structured_output(Joke, method=method, include_raw=True).invoke("x")
    assert result["raw"].content == "not json"
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], OutputParserException)


def test_json_schema_with_tools_binds_them_and_a_tool_call_parses_to_none(
    wrapper_with: Any,
) -> None:
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    wrapper, scripted = wrapper_with(tool_answer("get_weather", {"city": "Paris"}))
    structured = wrapper.with_structured_output(
        Joke, tools=[get_weather], strict=True, include_raw=True
    )
    result = structured.invoke("x")
    assert result["parsed"] is None
    assert result["raw"].tool_calls[0]["args"] == {"city": "Paris"}
    [kwargs] = scripted.calls
    assert kwargs["tools"][0]["function"]["strict"] is True
    assert kwargs["response_format"]["type"] == "json_schema"
    assert "tool_choice" not in kwargs


# --- mock-provider instances ------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_mock_instance_fails_clearly(
    mock_wrapper: TaskGroupWrapper, method: str, mode: str
) -> None:
    structured = mock_wrapper.with_structured_output(Joke, method=method)
    with pytest.raises(OutputParserException, match=r"answered by mk#0, a mock-provider instance"):
        call(structured, mode)


def test_a_mock_answer_with_include_raw_is_a_parsing_error(mock_wrapper: TaskGroupWrapper) -> None:
    result = mock_wrapper.with_structured_output(Joke, include_raw=True).invoke("a joke")
    assert result["raw"].content == "Mock reply to: a joke"
    assert result["parsed"] is None
    assert "mock ignores response_format and tools" in str(result["parsing_error"])


def test_only_answers_from_mock_instances_fail(manager_for: Any) -> None:
    models = {"oa": openai_model(UNUSED_URL), "mk": {"provider": "mock", "model": "mock"}}
    groups = {
        "g": {"echelon1": {"models": ["oa"], "max_retries": 0}, "echelon2": {"models": ["mk"]}}
    }
    wrapper = TaskGroupWrapper(target="g", task_group_manager=manager_for(models, groups))
    scripted = Scripted(answer=content_answer())
    next(i for i in wrapper.routed_instances() if i.id == "oa#0").models = SameModel(scripted)
    structured = wrapper.with_structured_output(Joke, include_raw=True)
    assert structured.invoke("x")["parsed"] == Joke(**JOKE)
    scripted.fail = True  # the call falls back to the mock
    result = structured.invoke("x")
    assert result["raw"].response_metadata["routing"]["instance"] == "mk#0"
    assert "mock-provider instance" in str(result["parsing_error"])
