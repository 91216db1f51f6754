"""ErrorHandler: node failures become state updates with a message for people (seed 000)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import httpx2
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai.chat_models.base import (
    OpenAIContextOverflowError,
    OpenAIRateLimitError,
    OpenAITimeoutError,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages

from infrastructure.graph.error_handler import LANGUAGES, ErrorHandler, redact
from infrastructure.llm.errors import (
    AllTargetsFailedError,
    CircuitOpenError,
    ConfigError,
    ConfigIssue,
    DeadlineExceededError,
    LLMWrapperError,
    NoCapacityError,
    StreamInterruptedError,
)

REQUEST = httpx2.Request("POST", "http://sim/v1/chat/completions")


def status_error(cls: type[openai.APIStatusError], status: int, message: str = "", **headers: str):
    response = httpx2.Response(status, headers=headers, request=REQUEST)
    return cls(message or f"status {status}", response=response, body=None)


# A word each message must contain, so the right text is shown, not just some text.
KEYWORDS = {
    "rate_limited": ("busy", "繁忙"),
    "unavailable": ("unavailable", "不可用"),
    "timeout": ("too long", "超时"),
    "bad_request": ("could not be processed", "无法处理"),
    "misconfigured": ("administrator", "管理员"),
    "tool": ("tool", "工具"),
    "state": ("conversation", "对话"),
    "routing": ("right assistant", "合适的助手"),
    "stream_interrupted": ("has been kept", "已保留"),
    "unexpected": ("Sorry, something went wrong. Please", "出现了问题"),
}

LLM_CASES: list[tuple[str, BaseException, str]] = [
    ("openai 429", status_error(openai.RateLimitError, 429), "rate_limited"),
    ("langchain 429", status_error(OpenAIRateLimitError, 429), "rate_limited"),
    ("no capacity", NoCapacityError("g.echelon1: limits reached"), "rate_limited"),
    ("openai 503", status_error(openai.InternalServerError, 503), "unavailable"),
    ("connection refused", openai.APIConnectionError(request=REQUEST), "unavailable"),
    ("circuit open", CircuitOpenError("g.echelon1: no instance can take a call"), "unavailable"),
    (
        "all targets failed",
        AllTargetsFailedError(
            "g: no target answered", ["a"], status_error(openai.InternalServerError, 502)
        ),
        "unavailable",
    ),
    (
        "all targets misconfigured",
        AllTargetsFailedError(
            "g: no target answered", ["a"], status_error(openai.AuthenticationError, 401)
        ),
        "misconfigured",
    ),
    ("openai timeout", openai.APITimeoutError(REQUEST), "timeout"),
    ("langchain timeout", OpenAITimeoutError(REQUEST), "timeout"),
    ("raw read timeout", httpx2.ReadTimeout("slow", request=REQUEST), "timeout"),
    ("builtin timeout", TimeoutError(), "timeout"),
    ("deadline", DeadlineExceededError("the call's deadline of 30s has passed"), "timeout"),
    ("openai 400", status_error(openai.BadRequestError, 400), "bad_request"),
    ("context overflow", status_error(OpenAIContextOverflowError, 400), "bad_request"),
    ("content filter", openai.ContentFilterFinishReasonError(), "bad_request"),
    ("openai 401", status_error(openai.AuthenticationError, 401), "misconfigured"),
    ("openai 404", status_error(openai.NotFoundError, 404), "misconfigured"),
    ("config", ConfigError([ConfigIssue("g.yaml", "models", "missing")]), "misconfigured"),
    ("no such wrapper", LLMWrapperError("no wrapper named 'x' (known: a)"), "routing"),
    (
        "stream cut",
        StreamInterruptedError("w: stream broke", "Half an", httpx2.ReadError("reset")),
        "stream_interrupted",
    ),
    ("programming error", RuntimeError("boom"), "unexpected"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("exc", "category"), [c[1:] for c in LLM_CASES], ids=[c[0] for c in LLM_CASES]
)
def test_llm_errors_get_the_message_of_their_category(
    exc: BaseException, category: str, language: str
) -> None:
    state = ErrorHandler(language=language).handle_llm_error(exc, {})

    assert state["last_error"]["category"] == category
    assert KEYWORDS[category][LANGUAGES.index(language)] in state["user_message"]
    assert state["user_message"] == ErrorHandler(language).user_message(exc)


@pytest.mark.parametrize(
    ("method", "category"),
    [
        ("handle_tool_error", "tool"),
        ("handle_state_error", "state"),
        ("handle_routing_error", "routing"),
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_other_sources_get_a_fixed_message(method: str, category: str, language: str) -> None:
    handler = ErrorHandler(language)
    state = getattr(handler, method)(status_error(openai.RateLimitError, 429), {})

    assert state["last_error"]["category"] == category
    assert KEYWORDS[category][LANGUAGES.index(language)] in state["user_message"]


def test_every_category_has_a_distinct_short_message_in_each_language() -> None:
    for index, language in enumerate(LANGUAGES):
        texts = [ErrorHandler(language).user_message(RuntimeError(), "llm")]
        texts += [
            ErrorHandler(language).user_message(RuntimeError(), source)
            for source in ("tool", "state", "routing")
        ]
        texts += [ErrorHandler(language).user_message(exc) for _, exc, _ in LLM_CASES]
        distinct = set(texts)
        assert len(distinct) == len(KEYWORDS)
        assert all(len(text) < 140 for text in distinct)
        if language == "zh":
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in distinct)
        for words in KEYWORDS.values():
            assert any(words[index] in text for text in distinct)


HANDLERS = {
    "llm": "handle_llm_error",
    "tool": "handle_tool_error",
    "state": "handle_state_error",
    "routing": "handle_routing_error",
}


def old_record() -> dict[str, Any]:
    return {"type": "llm", "error_type": "TimeoutError", "message": "earlier", "time": 1.0}


@pytest.mark.parametrize(("source", "method"), HANDLERS.items())
def test_handlers_keep_the_state_append_the_error_and_do_not_mutate(
    source: str, method: str
) -> None:
    state = {
        "messages": [HumanMessage("hi", id="h1")],
        "user_id": "u1",
        "context": {"subject": "math", "steps": [1, 2]},
        "errors": [old_record()],
    }
    before = copy.deepcopy(state)

    new = getattr(ErrorHandler, method)(KeyError("answer"), state)

    assert state == before
    assert new is not state
    assert {key: new[key] for key in ("messages", "user_id", "context")} == {
        key: before[key] for key in ("messages", "user_id", "context")
    }
    assert new["errors"][0] == old_record()
    assert len(new["errors"]) == 2
    record = new["errors"][1]
    assert new["last_error"] == record
    assert record["type"] == source
    assert record["error_type"] == "KeyError"
    assert record["message"] == "KeyError: 'answer'"
    assert record["recoverable"] is False
    assert record["retry_after"] is None
    assert isinstance(record["time"], float)
    assert set(new) == {*state, "last_error", "user_message"}


@pytest.mark.parametrize(("source", "method"), HANDLERS.items())
@pytest.mark.parametrize("errors", ["missing", None, []])
def test_a_state_without_errors_gets_a_list(source: str, method: str, errors: Any) -> None:
    state = {} if errors == "missing" else {"errors": errors}
    assert len(getattr(ErrorHandler, method)(ValueError("bad"), state)["errors"]) == 1


def test_tool_name_and_retry_after_are_recorded() -> None:
    state = ErrorHandler.handle_tool_error(
        status_error(openai.RateLimitError, 429, **{"retry-after": "3"}), {}, tool_name="search"
    )
    assert state["last_error"]["tool"] == "search"
    assert state["last_error"]["retry_after"] == 3.0
    assert state["last_error"]["recoverable"] is True


SECRET_MESSAGE = (
    "Incorrect API key provided: sk-secret-123 for https://api.example.com/v1?api_key=abc123&x=1"
)


@pytest.mark.parametrize(("source", "method"), HANDLERS.items())
@pytest.mark.parametrize("language", LANGUAGES)
def test_secrets_never_reach_the_user_or_the_record(
    source: str, method: str, language: str
) -> None:
    exc = status_error(openai.AuthenticationError, 401, SECRET_MESSAGE)
    handler = ErrorHandler(language)
    new = getattr(handler, method)(exc, {})
    update = handler.update_for(exc, {}, source=source)

    for text in (
        new["user_message"],
        str(new["errors"]),
        str(update["messages"][0].content),
        str(update["messages"][0].response_metadata),
    ):
        assert "sk-secret-123" not in text
        assert "abc123" not in text
    assert "https://" not in new["user_message"]
    assert new["last_error"]["message"].startswith("AuthenticationError: Incorrect API key")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key sk-proj-AbC_12-xyz rejected", "AbC_12-xyz"),
        ("Authorization: Bearer eyJhbGciOi.abc", "eyJhbGciOi"),
        ("GET /v1/models?key=AIzaSyXYZ&alt=json", "AIzaSyXYZ"),
        ("config {'api_key': 'plain-secret'}", "plain-secret"),
        ("token=t0k3n", "t0k3n"),
        ("redis://user:hunter2@cache:6379/0", "hunter2"),
    ],
)
def test_redact_masks_keys_tokens_and_passwords(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_redact_leaves_ordinary_messages_alone() -> None:
    text = "g.echelon1: no instance can take a call now (max_tokens=512, 3 tokens left)"
    assert redact(text) == text


RECOVERABLE: list[tuple[str, BaseException, bool]] = [
    ("429", status_error(openai.RateLimitError, 429), True),
    ("503", status_error(openai.InternalServerError, 503), True),
    ("connection", openai.APIConnectionError(request=REQUEST), True),
    ("timeout", openai.APITimeoutError(REQUEST), True),
    ("asyncio timeout", asyncio.TimeoutError(), True),
    ("no capacity", NoCapacityError("full"), True),
    ("circuit open", CircuitOpenError("open"), True),
    ("deadline", DeadlineExceededError("late"), True),
    ("stream cut", StreamInterruptedError("cut", "partial", httpx2.ReadError("x")), True),
    (
        "all failed, last retryable",
        AllTargetsFailedError("none", [], status_error(openai.InternalServerError, 500)),
        True,
    ),
    ("all failed, last deadline", AllTargetsFailedError("none", [], DeadlineExceededError()), True),
    (
        "all failed, last misconfigured",
        AllTargetsFailedError("none", [], status_error(openai.AuthenticationError, 401)),
        False,
    ),
    ("all failed, nothing tried", AllTargetsFailedError("none", [], None), False),
    ("400", status_error(openai.BadRequestError, 400), False),
    ("401", status_error(openai.AuthenticationError, 401), False),
    ("config", ConfigError([]), False),
    ("no such wrapper", LLMWrapperError("no wrapper named 'x'"), False),
    ("ValueError", ValueError("x"), False),
    ("KeyError", KeyError("x"), False),
    ("TypeError", TypeError("x"), False),
]


@pytest.mark.parametrize(
    ("exc", "expected"), [c[1:] for c in RECOVERABLE], ids=[c[0] for c in RECOVERABLE]
)
def test_is_recoverable_error(exc: BaseException, expected: bool) -> None:
    assert ErrorHandler.is_recoverable_error(exc) is expected
    assert ErrorHandler("zh").is_recoverable_error(exc) is expected
    assert ErrorHandler.handle_llm_error(exc, {})["last_error"]["recoverable"] is expected


@pytest.mark.parametrize(
    ("exc", "attempt", "max_attempts", "expected"),
    [
        (TimeoutError(), 1, 3, True),
        (TimeoutError(), 2, 3, True),
        (TimeoutError(), 3, 3, False),
        (TimeoutError(), 4, 3, False),
        (TimeoutError(), 1, 1, False),
        (TimeoutError(), 4, 5, True),
        (ValueError("x"), 1, 3, False),
        (ConfigError([]), 1, 3, False),
    ],
)
def test_should_retry(exc: BaseException, attempt: int, max_attempts: int, expected: bool) -> None:
    assert ErrorHandler.should_retry(exc, attempt, max_attempts) is expected


def test_should_retry_defaults_to_three_attempts() -> None:
    assert ErrorHandler.should_retry(NoCapacityError("full"), 2)
    assert not ErrorHandler.should_retry(NoCapacityError("full"), 3)


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'fr'.*en, zh"):
        ErrorHandler(language="fr")


def test_class_calls_use_the_default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ErrorHandler.user_message(TimeoutError()) == ErrorHandler("en").user_message(
        TimeoutError()
    )
    monkeypatch.setattr(ErrorHandler, "default_language", "zh")
    assert "超时" in ErrorHandler.handle_llm_error(TimeoutError(), {})["user_message"]
    assert "too long" in ErrorHandler("en").user_message(TimeoutError())
    monkeypatch.setattr(ErrorHandler, "default_language", "de")
    with pytest.raises(ValueError, match="'de'"):
        ErrorHandler.user_message(TimeoutError())


def test_update_for_is_the_handlers_delta_plus_one_ai_message() -> None:
    state = {"messages": [HumanMessage("hi", id="h1")], "errors": [old_record()], "other": 1}
    before = copy.deepcopy(state)
    exc = status_error(openai.InternalServerError, 503)

    update = ErrorHandler("zh").update_for(exc, state)
    full = ErrorHandler("zh").handle_llm_error(exc, state)

    assert state == before
    assert set(update) == {"messages", "errors", "last_error", "user_message"}
    for key in ("errors", "last_error"):
        assert _without_time(update[key]) == _without_time(full[key])
    assert update["user_message"] == full["user_message"]
    [message] = update["messages"]
    assert isinstance(message, AIMessage)
    assert message.content == full["user_message"]
    assert message.response_metadata["error"] == {
        "category": "unavailable",
        "error_type": "InternalServerError",
        "recoverable": True,
    }


def _without_time(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_time(item) for item in value]
    return {key: item for key, item in value.items() if key != "time"}


def test_update_for_tool_errors_names_the_tool() -> None:
    update = ErrorHandler.update_for(RuntimeError("x"), {}, source="tool", tool_name="calculator")
    assert update["last_error"]["type"] == "tool"
    assert update["last_error"]["tool"] == "calculator"
    assert "tool" in update["messages"][0].content


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_broken_stream_keeps_the_partial_answer(language: str) -> None:
    exc = StreamInterruptedError("w: stream broke", "Photosynthesis turns light", OSError("reset"))
    handler = ErrorHandler(language)

    update = handler.update_for(exc, {})
    full = handler.handle_llm_error(exc, {})

    content = update["messages"][0].content
    assert content.startswith("Photosynthesis turns light\n\n")
    assert content.endswith(handler.user_message(exc))
    assert KEYWORDS["stream_interrupted"][LANGUAGES.index(language)] in content
    assert full["last_error"]["partial_text"] == "Photosynthesis turns light"
    assert full["user_message"] == handler.user_message(exc)


class ChatState(TypedDict):
    messages: Annotated[list, add_messages]
    errors: list


def failing_graph(node: Callable[[Any], dict[str, Any]], schema: type = ChatState):
    graph = StateGraph(schema)
    graph.add_node("llm", node)
    graph.add_edge(START, "llm")
    graph.add_edge("llm", END)
    return graph.compile(checkpointer=InMemorySaver())


def call_model(state: Any) -> dict[str, Any]:
    raise AllTargetsFailedError(
        "g: no target answered", ["g.echelon1"], status_error(openai.InternalServerError, 503)
    )


def test_a_graph_node_answers_with_the_user_message_and_records_the_error() -> None:
    def node(state: ChatState) -> dict[str, Any]:
        try:
            return call_model(state)
        except Exception as exc:
            return ErrorHandler("zh").update_for(exc, state)

    app = failing_graph(node)
    config = {"configurable": {"thread_id": "t1"}}

    result = app.invoke({"messages": [HumanMessage("你好")], "errors": []}, config)

    human = [m for m in result["messages"] if isinstance(m, HumanMessage)]
    assert [m.content for m in human] == ["你好"]
    assert isinstance(result["messages"][-1], AIMessage)
    assert result["messages"][-1].content == "抱歉，AI 服务暂时不可用，请稍后再试。"
    assert len(result["messages"]) == 2
    [record] = result["errors"]
    assert record["type"] == "llm"
    assert record["error_type"] == "AllTargetsFailedError"
    assert record["recoverable"] is True

    # A second turn on the same thread keeps the first error and adds the new one.
    result = app.invoke({"messages": [HumanMessage("还在吗")]}, config)
    assert [m.content for m in result["messages"] if isinstance(m, HumanMessage)] == [
        "你好",
        "还在吗",
    ]
    assert len(result["messages"]) == 4
    assert len(result["errors"]) == 2


def test_the_full_state_form_does_not_duplicate_messages_under_add_messages() -> None:
    def node(state: ChatState) -> dict[str, Any]:
        try:
            return call_model(state)
        except Exception as exc:
            return ErrorHandler.handle_llm_error(exc, state)

    result = failing_graph(node).invoke(
        {"messages": [HumanMessage("hi")], "errors": []}, {"configurable": {"thread_id": "t"}}
    )
    assert [m.content for m in result["messages"]] == ["hi"]
    assert len(result["errors"]) == 1


def test_update_for_suits_a_bare_messages_state() -> None:
    def node(state: MessagesState) -> dict[str, Any]:
        try:
            return call_model(state)
        except Exception as exc:
            return ErrorHandler.update_for(exc, state)

    result = failing_graph(node, MessagesState).invoke(
        {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "t"}}
    )
    assert [type(m) for m in result["messages"]] == [HumanMessage, AIMessage]
    assert "unavailable" in result["messages"][-1].content
