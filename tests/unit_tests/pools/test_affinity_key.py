"""A call's affinity key: session ids first, else the hash of the prompt's leading part."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from infrastructure.llm.fleet.affinity import (
    affinity_key,
    prompt_prefix,
    session_id,
    with_session_metadata,
)

SYSTEM = SystemMessage("You are terse.")


def test_session_id_comes_before_thread_id_and_the_prompt() -> None:
    messages = [HumanMessage("hi")]
    assert affinity_key(messages, {"session_id": "s1", "thread_id": "t1"}, 100) == "session:s1"
    assert affinity_key(messages, {"thread_id": 42}, 100) == "session:42"
    assert affinity_key(messages, {"session_id": ""}, 100).startswith("prefix:")


def test_every_turn_of_one_conversation_has_the_same_key() -> None:
    first = [SYSTEM, HumanMessage("Plan a trip to Lisbon.")]
    later = [*first, AIMessage("Day 1: ..."), HumanMessage("Make it cheaper.")]
    assert affinity_key(first, None, 2048) == affinity_key(later, {}, 2048)


def test_different_first_questions_have_different_keys() -> None:
    one = [SYSTEM, HumanMessage("Plan a trip to Lisbon.")]
    two = [SYSTEM, HumanMessage("Plan a trip to Porto.")]
    assert affinity_key(one, None, 2048) != affinity_key(two, None, 2048)


def test_only_the_leading_characters_count() -> None:
    shared = "x" * 50
    one = [SystemMessage(shared + "tail one")]
    two = [SystemMessage(shared + "tail two")]
    assert len(prompt_prefix(one, 40)) == 40
    assert affinity_key(one, None, 40) == affinity_key(two, None, 40)
    assert affinity_key(one, None, 400) != affinity_key(two, None, 400)


def test_text_blocks_of_list_content_are_read() -> None:
    blocks = [HumanMessage(content=[{"type": "text", "text": "look"}, "here"])]
    assert "look\nhere" in prompt_prefix(blocks, 100)


def test_configurable_session_is_copied_into_metadata() -> None:
    config = {"configurable": {"thread_id": "t9"}, "metadata": {"user": "u"}}
    moved = with_session_metadata(config)  # type: ignore[arg-type]
    assert moved["metadata"] == {"user": "u", "thread_id": "t9"}  # type: ignore[index]
    assert config["metadata"] == {"user": "u"}  # the caller's config is not changed


def test_metadata_session_of_higher_or_equal_precedence_is_kept() -> None:
    config = {"configurable": {"thread_id": "t"}, "metadata": {"session_id": "s"}}
    assert with_session_metadata(config) is config  # type: ignore[arg-type]
    config = {"configurable": {"session_id": "s"}, "metadata": {"thread_id": "t"}}
    moved = with_session_metadata(config)  # type: ignore[arg-type]
    assert session_id(moved["metadata"]) == "s"  # type: ignore[index]
    assert with_session_metadata(None) is None
    plain = {"tags": ["x"]}
    assert with_session_metadata(plain) is plain  # type: ignore[arg-type]
