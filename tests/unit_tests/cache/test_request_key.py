"""The cache key: every field that changes an answer changes the key; the instance that
served a call, tracing arguments and the embedded text (for the semantic context) do not."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from infrastructure.llm.cache.request_key import EmbedText, RequestKey, request_key

MESSAGES = [SystemMessage("Be brief."), HumanMessage("What is the capital of France?")]


class Answer(BaseModel):
    city: str


def key(**changes: Any) -> RequestKey:
    call: dict[str, Any] = {
        "namespace": "default",
        "route": "g",
        "messages": MESSAGES,
        "stop": None,
        "params": {},
    }
    call.update(changes)
    return request_key(**call)


BASE = key()


@pytest.mark.parametrize(
    "changes",
    [
        {"namespace": "other"},
        {"route": "g.echelon2"},
        {"messages": [SystemMessage("Be long."), MESSAGES[1]]},
        {"messages": [MESSAGES[0], HumanMessage("What is the capital of Spain?")]},
        {"stop": ["\n"]},
        {"params": {"tools": [{"type": "function", "function": {"name": "f"}}]}},
        {"params": {"tool_choice": "required"}},
        {"params": {"response_format": {"type": "json_object"}}},
        {"params": {"response_format": Answer}},
        {"params": {"model": "other-model"}},
        {"params": {"temperature": 0.2}},
        {"params": {"max_tokens": 10}},
        {"params": {"top_p": 0.5}},
    ],
)
def test_each_field_that_changes_the_answer_changes_the_key(changes: dict[str, Any]) -> None:
    assert key(**changes).exact != BASE.exact


def test_the_same_call_has_the_same_key_and_tracing_arguments_do_not_count() -> None:
    assert key().exact == BASE.exact
    assert key(params={"ls_structured_output_format": {"x": 1}}).exact == BASE.exact


def test_tool_call_links_are_part_of_the_messages() -> None:
    call = AIMessage("", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1"}])
    first = key(messages=[*MESSAGES, call, ToolMessage("1", tool_call_id="c1")])
    second = key(messages=[*MESSAGES, call, ToolMessage("1", tool_call_id="c2")])
    assert first.exact != second.exact


def test_the_context_leaves_out_only_the_embedded_text() -> None:
    paraphrase = key(messages=[MESSAGES[0], HumanMessage("France's capital city?")])
    assert paraphrase.exact != BASE.exact
    assert paraphrase.context == BASE.context
    assert BASE.text == "What is the capital of France?"
    other_system = key(messages=[SystemMessage("Be long."), MESSAGES[1]])
    assert other_system.context != BASE.context


def test_all_user_messages_can_be_embedded() -> None:
    history = [HumanMessage("Hi"), AIMessage("Hello"), HumanMessage("Capital of France?")]
    assert key(messages=history).text == "Capital of France?"
    assert key(messages=history, embed=EmbedText.ALL_USER_MESSAGES).text == (
        "Hi\nCapital of France?"
    )


def test_a_request_without_user_text_has_nothing_to_embed() -> None:
    found = key(messages=[SystemMessage("Say hi.")])
    assert found.text is None and found.context == found.exact
