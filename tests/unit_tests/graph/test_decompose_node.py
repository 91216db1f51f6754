"""The decompose node with in-process mock models: its config is checked at build time with
where each problem is, long lists are capped, and one part needs no headings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from infrastructure.graph.decomposition.structured import SubQuestions, usable
from infrastructure.graph.nodes.decompose_node import DecomposeNode
from infrastructure.graph.workflow import WorkflowConfigError, build_workflow
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import write_config

MODELS = {"m": {"provider": "mock", "model": "mock"}}


@pytest.fixture
def factory(tmp_path: Path) -> LLMWrapperFactory:
    groups: dict[str, dict[str, Any]] = {"g": {"echelon1": {"models": ["m"]}}}
    return LLMWrapperFactory.from_config_dir(write_config(tmp_path / "llms", MODELS, groups))


def node(factory: LLMWrapperFactory, **config: Any) -> DecomposeNode:
    return DecomposeNode(factory, config={"answer_wrapper": "g_wrapper", **config}, name="parts")


def test_every_config_problem_is_reported_with_the_node_and_key(
    factory: LLMWrapperFactory,
) -> None:
    workflow = {
        "nodes": {
            "a": {"type": "decompose", "config": {}},
            "b": {"type": "decompose", "config": {"answer_wrapper": "nope"}},
            "c": {
                "type": "decompose",
                "config": {"answer_wrapper": "g_wrapper", "splitter": "llm"},
            },
            "d": {
                "type": "decompose",
                "config": {"answer_wrapper": "g_wrapper", "merge_wrapper": "g_wrapper"},
            },
            "e": {
                "type": "decompose",
                "config": {"answer_wrapper": "g_wrapper", "max_sub_questions": 0},
            },
            "f": {
                "type": "decompose",
                "config": {"answer_wrapper": "g_wrapper", "on_eror": "message"},
            },
            "g": {
                "type": "decompose",
                "config": {"answer_wrapper": "g_wrapper", "cache_context": True},
            },
        }
    }
    with pytest.raises(WorkflowConfigError) as caught:
        build_workflow(workflow, factory)
    message = str(caught.value)
    for expected in (
        "nodes.a.config: node 'a': answer_wrapper: Field required",
        "nodes.b.config: node 'b': answer_wrapper: no wrapper named 'nope'",
        "nodes.c.config: node 'c': (settings): Value error, split_wrapper: required when "
        "splitter is 'llm'",
        "nodes.d.config: node 'd': (settings): Value error, merge_wrapper: only used when merge "
        "is 'synthesize'",
        "nodes.e.config: node 'e': max_sub_questions: Input should be greater than or equal to 1",
        "nodes.f.config: node 'f': on_eror: Extra inputs are not permitted",
        "nodes.g.config: node 'g': cache_context: wrapper 'g_wrapper' has no semantic cache",
    ):
        assert expected in message


def test_a_builder_without_a_factory_cannot_make_one() -> None:
    workflow = {"nodes": {"a": {"type": "decompose", "config": {"answer_wrapper": "w"}}}}
    with pytest.raises(WorkflowConfigError, match=r"nodes\.a\.config: a decompose node needs"):
        build_workflow(workflow)


def test_parts_past_the_limit_join_the_last(factory: LLMWrapperFactory) -> None:
    update = node(factory, max_sub_questions=2).invoke(
        {"messages": [HumanMessage("1. What is A? 2. What is B? 3. What is C?")]}
    )
    assert update["decomposition"]["sub_questions"] == ["What is A?", "What is B? What is C?"]


def test_a_simple_question_is_one_part_answered_without_headings(
    factory: LLMWrapperFactory,
) -> None:
    update = node(factory).invoke({"messages": [HumanMessage("What is Redis?")]})
    assert update["decomposition"]["sub_questions"] == ["What is Redis?"]
    assert update["messages"][0].content == "Mock reply to: What is Redis?"


def test_a_state_without_a_user_message_is_an_error(
    factory: LLMWrapperFactory,
) -> None:
    with pytest.raises(LLMWrapperError, match="node 'parts': the state has no user message"):
        node(factory).invoke({"messages": []})


def test_model_output_is_used_only_when_it_holds_sub_questions() -> None:
    parts = SubQuestions(sub_questions=[" What is A? ", "", "What is B?", "What is A?"])
    assert usable(parts) == ["What is A?", "What is B?"]
    assert usable({"sub_questions": ["What is A?"]}) == ["What is A?"]
    with pytest.raises(ValueError, match="no sub-question that is not blank"):
        usable(SubQuestions(sub_questions=["  "]))
    with pytest.raises(ValueError, match="expected SubQuestions, got str"):
        usable("What is A?")
    with pytest.raises(ValueError):
        usable({"sub_questions": []})
