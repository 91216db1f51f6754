"""Semantic caching with the mock embeddings (hashed word features, in process): a paraphrase
of a cached question is answered from the cache with its similarity; a question that differs
in anything but its last user message, or is not similar enough, is not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from infrastructure.llm import TaskGroupWrapper
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager

MODELS = {
    "m": {"provider": "mock", "model": "mock"},
    "vectors": {"kind": "embeddings", "provider": "mock", "model": "hashed"},
}
SEMANTIC = {"mode": "semantic", "embeddings": "vectors"}

ManagerFor = Callable[..., TaskGroupManager]


def semantic_wrapper(manager_for: ManagerFor, **settings: Any) -> TaskGroupWrapper:
    groups = {"g": {"echelon1": {"models": ["m"]}, "cache": {**SEMANTIC, **settings}}}
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(MODELS, groups))


def routing(llm: TaskGroupWrapper, messages: Any, mode: str = "invoke") -> dict[str, Any]:
    if mode == "invoke":
        return llm.invoke(messages).response_metadata["routing"]
    return next(iter(llm.stream(messages))).response_metadata["routing"]


def test_a_paraphrase_is_a_semantic_hit(manager_for: ManagerFor) -> None:
    llm = semantic_wrapper(manager_for)
    first = llm.invoke("What is the capital of France?")
    assert first.response_metadata["routing"]["cache_hit"] is False
    for mode in ("invoke", "stream"):
        hit = routing(llm, "what's the capital city of France", mode)
        assert hit["cache_hit"] == "semantic" and 0.8 <= hit["similarity"] <= 1.0
    answer = llm.invoke("what's the capital city of France")
    assert answer.content == first.content  # the cached answer, not one to the new wording
    stats = llm.get_stats()["cache"]
    assert (stats["semantic_hits"], stats["misses"], stats["mode"]) == (3, 1, "semantic")
    assert stats["semantic_hit_rate"] == 0.75


def test_the_exact_question_is_an_exact_hit(manager_for: ManagerFor) -> None:
    llm = semantic_wrapper(manager_for)
    llm.invoke("Why is the sky blue?")
    assert routing(llm, "Why is the sky blue?")["cache_hit"] == "exact"


def test_another_question_on_the_same_topic_is_a_miss(manager_for: ManagerFor) -> None:
    llm = semantic_wrapper(manager_for)
    llm.invoke("What is the capital of France?")
    assert routing(llm, "What is the capital of Germany?")["cache_hit"] is False
    assert routing(llm, "Tell me a joke about programmers")["cache_hit"] is False


def test_only_the_embedded_text_may_differ(manager_for: ManagerFor) -> None:
    llm = semantic_wrapper(manager_for)
    llm.invoke([SystemMessage("Answer in French."), HumanMessage("Why is the sky blue?")])
    assert (
        routing(llm, [SystemMessage("Answer in English."), HumanMessage("why is the sky blue")])[
            "cache_hit"
        ]
        is False
    )
    assert (
        routing(llm, [SystemMessage("Answer in French."), HumanMessage("why is the sky blue")])[
            "cache_hit"
        ]
        == "semantic"
    )
    assert (
        llm.invoke("why is the sky blue", max_tokens=5).response_metadata["routing"]["cache_hit"]
        is False
    )


def test_the_threshold_decides(manager_for: ManagerFor) -> None:
    question, paraphrase = "How do I install numpy with pip?", "Installing numpy using pip"
    strict = semantic_wrapper(manager_for, similarity_threshold=0.9, namespace="strict")
    strict.invoke(question)
    assert routing(strict, paraphrase)["cache_hit"] is False  # similarity 0.87
    loose = semantic_wrapper(manager_for, similarity_threshold=0.85, namespace="loose")
    loose.invoke(question)
    assert routing(loose, paraphrase)["similarity"] == pytest.approx(0.866, abs=0.001)


def test_chinese_paraphrases_hit(manager_for: ManagerFor) -> None:
    llm = semantic_wrapper(manager_for)
    llm.invoke("如何提高睡眠质量？")
    assert routing(llm, "怎样才能提高睡眠质量？")["cache_hit"] == "semantic"
    assert routing(llm, "如何提高学习效率？")["cache_hit"] is False
