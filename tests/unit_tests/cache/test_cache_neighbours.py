"""`ResponseCache.neighbours`: the cached question/answer pairs near a text, read-only, with
the mock embeddings (hashed word features, in process); and the question kept by the codec."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, SystemMessage

from infrastructure.llm import TaskGroupWrapper
from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.codec import CorruptEntry, decode, encode
from infrastructure.llm.cache.response_cache import ResponseCache
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager

MODELS = {
    "m": {"provider": "mock", "model": "mock"},
    "vectors": {"kind": "embeddings", "provider": "mock", "model": "hashed"},
}
QUESTION, PARAPHRASE = "What is the capital of France?", "what's the capital city of France"

ManagerFor = Callable[..., TaskGroupManager]


def wrapper(manager_for: ManagerFor, **cache: Any) -> TaskGroupWrapper:
    section = {"mode": "semantic", "embeddings": "vectors", **cache}
    groups = {"g": {"echelon1": {"models": ["m"]}, "cache": section}}
    return TaskGroupWrapper(target="g", task_group_manager=manager_for(MODELS, groups))


def cache_of(llm: TaskGroupWrapper) -> ResponseCache:
    assert llm.response_cache is not None
    return llm.response_cache


def test_a_paraphrase_finds_the_cached_question_and_answer(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    answer = llm.invoke(QUESTION).content
    cache = cache_of(llm)
    before = (cache.store.count(), llm.get_stats()["cache"])
    (found,) = cache.neighbours(PARAPHRASE)
    assert (found.question, found.answer) == (QUESTION, answer)
    assert 0.8 <= found.similarity < 1.0
    assert (cache.store.count(), llm.get_stats()["cache"]) == before  # read-only, not counted
    assert asyncio.run(cache.aneighbours(PARAPHRASE)) == [found]


def test_an_unrelated_text_has_no_neighbours(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    llm.invoke(QUESTION)
    assert cache_of(llm).neighbours("Tell me a joke about programmers") == []


def test_neighbours_are_found_among_requests_of_the_same_shape(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    prompt = [SystemMessage("Answer briefly.")]
    llm.invoke([*prompt, ("human", QUESTION)])
    cache = cache_of(llm)
    assert cache.neighbours(PARAPHRASE) == []
    assert [n.question for n in cache.neighbours(PARAPHRASE, prompt)] == [QUESTION]


def test_streamed_answers_are_neighbours_too(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    text = "".join(str(chunk.content) for chunk in llm.stream(QUESTION))
    assert [n.answer for n in cache_of(llm).neighbours(PARAPHRASE)] == [text]


def test_an_exact_cache_has_no_neighbours(manager_for: ManagerFor) -> None:
    groups = {"g": {"echelon1": {"models": ["m"]}, "cache": {"mode": "exact"}}}
    llm = TaskGroupWrapper(target="g", task_group_manager=manager_for(MODELS, groups))
    llm.invoke(QUESTION)
    assert cache_of(llm).neighbours(QUESTION) == []


def test_the_question_survives_encoding_and_old_entries_have_none() -> None:
    answer = CachedAnswer(message=AIMessage("Paris"), question=QUESTION)
    assert decode(encode(answer, None)) == answer
    assert decode(encode(answer, 0)) == answer
    assert decode(encode(dataclasses.replace(answer, question=None), None)).question is None


def test_a_question_that_is_no_string_is_corrupt() -> None:
    body = json.loads(encode(CachedAnswer(message=AIMessage("Paris")), None)[1:])
    data = b"j" + json.dumps({**body, "question": 3}).encode()
    with pytest.raises(CorruptEntry, match="question of type int"):
        decode(data)
