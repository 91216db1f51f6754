"""ErrorHandler's language is set once per process: `ErrorHandler.configure(...)` wins over
`LLM_WRAPPERS_LANGUAGE`, which wins over English; a handler or node given one keeps it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage

from infrastructure.graph.error_handler import LANGUAGE_ENV, ErrorHandler
from infrastructure.graph.nodes.llm_node import LLMNode

EN = "Sorry, the answer took too long. Please try again."
ZH = "抱歉，回答生成超时，请重试。"


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No language configured, none in the environment; `configure` is undone afterwards."""
    monkeypatch.setattr(ErrorHandler, "default_language", None)
    monkeypatch.delenv(LANGUAGE_ENV, raising=False)
    yield


def said(handler: type[ErrorHandler] | ErrorHandler = ErrorHandler) -> str:
    return handler.handle_llm_error(TimeoutError("slow"), {})["user_message"]


def test_without_settings_the_language_is_english() -> None:
    assert ErrorHandler.configured_language() == "en"
    assert said() == EN
    assert said(ErrorHandler()) == EN


def test_the_environment_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, "zh")
    assert said() == ZH
    assert said(ErrorHandler()) == ZH


def test_an_empty_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, " ")
    assert said() == EN


def test_configure_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ErrorHandler.configure(language="zh")
    assert said() == ZH


def test_configure_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, "zh")
    ErrorHandler.configure(language="en")
    assert said() == EN


def test_a_handler_given_a_language_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, "zh")
    assert said(ErrorHandler(language="en")) == EN


def test_a_bad_environment_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, "fr")
    message = r"environment variable LLM_WRAPPERS_LANGUAGE: unsupported language 'fr'.*en, zh"
    with pytest.raises(ValueError, match=message):
        said()
    with pytest.raises(ValueError, match=message):  # when the graph is built, not at a failure
        LLMNode(None, None, config={"on_error": "message"})
    LLMNode(None, None, config={"error_language": "zh"})  # a node given one does not read it


def test_configure_refuses_an_unknown_language_by_name() -> None:
    with pytest.raises(ValueError, match=r"ErrorHandler\.configure\(language=\.\.\.\).*'de'"):
        ErrorHandler.configure(language="de")
    assert ErrorHandler.configured_language() == "en"


class Broken:
    """A chat model stand-in whose every call times out."""

    def invoke(self, *args: object, **kwargs: object) -> None:
        raise TimeoutError("slow")


def node_says(node: LLMNode) -> str:
    node.llm_client = Broken()  # type: ignore[assignment]
    update = node.execute({"messages": [HumanMessage("hi")]})
    return str(update["user_message"])


def test_a_node_without_error_language_uses_the_configured_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LANGUAGE_ENV, "zh")
    assert node_says(LLMNode(None, None, config={"on_error": "message"})) == ZH


def test_a_nodes_error_language_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    ErrorHandler.configure(language="zh")
    config = {"on_error": "message", "error_language": "en"}
    assert node_says(LLMNode(None, None, config=config)) == EN
