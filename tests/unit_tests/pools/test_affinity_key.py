"""A call's affinity key: session ids first, else the hash of the prompt's leading part."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from infrastructure.llm.fleet.affinity import affinity_key, prompt_prefix, session_id

SYSTEM = SystemMessage("You are terse.")


def test_a_session_id_makes_the_key() -> None:
    assert affinity_key([HumanMessage("hi")], "s1", 100) == "session:s1"
    assert affinity_key([HumanMessage("hi")], None, 100).startswith("prefix:")


def test_session_id_comes_before_thread_id_and_metadata_before_configurable() -> None:
    assert session_id({"metadata": {"session_id": "s", "thread_id": "t"}}) == "s"
    assert session_id({"configurable": {"thread_id": 42}}) == "42"
    assert session_id({"metadata": {"session_id": "m"}, "configurable": {"session_id": "c"}}) == "m"
    assert session_id({"metadata": {"thread_id": "t"}, "configurable": {"session_id": "c"}}) == "c"
    assert session_id({"metadata": {"session_id": ""}, "tags": ["x"]}) is None
    assert session_id(None) is None


def test_every_turn_of_one_conversation_has_the_same_key() -> None:
    first = [SYSTEM, HumanMessage("Plan a trip to Lisbon.")]
    later = [*first, AIMessage("Day 1: ..."), HumanMessage("Make it cheaper.")]
    assert affinity_key(first, None, 2048) == affinity_key(later, None, 2048)


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
