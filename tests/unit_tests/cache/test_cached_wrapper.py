"""Wrappers with a `cache:` section, over the in-process mock provider: misses route, hits do
not; hits say so in the routing metadata, replay as chunks when streamed, count in stats and
make one traced run; the caller can bypass the cache; namespaces decide sharing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from infrastructure.llm import LLMWrapperFactory, TaskGroupWrapper
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager

from routing_helpers import CALL_MODES

MODELS = {"m": {"provider": "mock", "model": "mock"}}

ManagerFor = Callable[..., TaskGroupManager]


def group(cache: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"echelon1": {"models": ["m"]}}
    if cache is not None:
        body["cache"] = cache
    return body


def call(model: BaseChatModel, mode: str, prompt: str = "hello", **kwargs: Any) -> dict:
    """The answer's text, routing metadata and chunk count, called by `mode`."""
    if mode == "invoke":
        message = model.invoke(prompt, **kwargs)
        return {"text": message.content, "routing": message.response_metadata["routing"]}
    if mode == "ainvoke":
        message = asyncio.run(model.ainvoke(prompt, **kwargs))
        return {"text": message.content, "routing": message.response_metadata["routing"]}
    if mode == "stream":
        chunks = list(model.stream(prompt, **kwargs))
    else:

        async def collect() -> list:
            return [chunk async for chunk in model.astream(prompt, **kwargs)]

        chunks = asyncio.run(collect())
    return {
        "text": "".join(str(c.content) for c in chunks),
        "routing": chunks[0].response_metadata["routing"],
        "chunks": sum(1 for c in chunks if c.content),
    }


def wrapper(manager_for: ManagerFor, cache: dict[str, Any] | None = None) -> TaskGroupWrapper:
    manager = manager_for(MODELS, {"g": group(cache if cache is not None else {})})
    return TaskGroupWrapper(target="g", task_group_manager=manager)


@pytest.mark.parametrize("mode", CALL_MODES)
def test_a_repeated_call_is_answered_from_the_cache(manager_for: ManagerFor, mode: str) -> None:
    llm = wrapper(manager_for)
    first = call(llm, mode)
    assert first["routing"]["cache_hit"] is False and first["routing"]["instance"] == "m#0"
    for again in CALL_MODES:  # an answer stored by any mode serves every mode
        hit = call(llm, again)
        assert hit["text"] == first["text"] == "Mock reply to: hello"
        assert hit["routing"]["cache_hit"] == "exact"
        assert hit["routing"]["instance"] is None and hit["routing"]["attempts"] == 0
    stats = llm.get_stats()
    assert stats["total_requests"] == 1  # only the miss was routed
    assert stats["cache"]["exact_hits"] == 4 and stats["cache"]["misses"] == 1
    assert stats["cache"]["hit_rate"] == pytest.approx(0.8)


def test_a_stream_hit_replays_word_chunks(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    llm.invoke("one two three four")
    hit = call(llm, "stream", "one two three four")
    assert hit["text"] == "Mock reply to: one two three four"
    assert hit["chunks"] == 7


@pytest.mark.parametrize("mode", CALL_MODES)
def test_the_caller_can_bypass_the_cache(manager_for: ManagerFor, mode: str) -> None:
    llm = wrapper(manager_for)
    call(llm, "invoke")
    assert call(llm, mode, cache=False)["routing"]["cache_hit"] is False
    assert llm.get_stats()["cache"]["bypassed"] == 1
    assert llm.get_stats()["total_requests"] == 2


def test_sampled_calls_are_not_cached_unless_the_section_says_so(manager_for: ManagerFor) -> None:
    llm = wrapper(manager_for)
    for _ in range(2):
        assert call(llm, "invoke", temperature=0.7)["routing"]["cache_hit"] is False
    call(llm, "invoke", temperature=0)
    assert call(llm, "invoke", temperature=0)["routing"]["cache_hit"] == "exact"
    sampled = wrapper(manager_for, {"include_sampled": True})
    call(sampled, "invoke", temperature=0.7)
    assert call(sampled, "invoke", temperature=0.7)["routing"]["cache_hit"] == "exact"
    assert call(sampled, "invoke", temperature=0.8)["routing"]["cache_hit"] is False


def test_wrappers_share_entries_only_within_a_namespace(
    tmp_path: Any, manager_for: ManagerFor
) -> None:
    manager = manager_for(MODELS, {"g": group({})})
    factory = LLMWrapperFactory(manager)
    first = factory.create_task_group_wrapper("a", {"target": "g"})
    same = factory.create_task_group_wrapper("b", {"target": "g"})
    other = factory.create_task_group_wrapper("c", {"target": "g", "cache": {"namespace": "c"}})
    off = factory.create_task_group_wrapper("d", {"target": "g", "cache": {"enabled": False}})
    call(first, "invoke")
    assert call(same, "invoke")["routing"]["cache_hit"] == "exact"
    assert call(other, "invoke")["routing"]["cache_hit"] is False
    assert call(off, "invoke")["routing"]["cache_hit"] is False
    assert "cache" not in off.get_stats()


def test_no_cache_section_means_no_cache_and_the_bypass_argument_never_reaches_a_model(
    manager_for: ManagerFor,
) -> None:
    manager = manager_for(MODELS, {"g": group()})
    llm = TaskGroupWrapper(target="g", task_group_manager=manager)
    call(llm, "invoke")
    assert call(llm, "invoke", cache=False)["routing"]["cache_hit"] is False
    assert "cache" not in llm.get_stats()


def test_a_wrapper_cache_section_is_validated(manager_for: ManagerFor) -> None:
    factory = LLMWrapperFactory(manager_for(MODELS, {"g": group()}))
    with pytest.raises(LLMWrapperError) as raised:
        factory.create_task_group_wrapper("w", {"target": "g", "cache": {"ttl": -1}})
    assert str(raised.value) == "wrapper 'w': cache.ttl: expected a number > 0, got -1"
    with pytest.raises(LLMWrapperError, match=r"cache\.embeddings: mode 'semantic' needs"):
        factory.create_task_group_wrapper("v", {"target": "g", "cache": {"mode": "semantic"}})


class RunCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[UUID] = []
        self.ends = 0
        self.tokens = 0

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self.starts.append(run_id)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.ends += 1

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens += 1


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_a_hit_is_one_traced_run(manager_for: ManagerFor, mode: str) -> None:
    llm = wrapper(manager_for)
    llm.invoke("a b c")
    counter = RunCounter()
    hit = call(llm, mode, "a b c", config={"callbacks": [counter]})
    assert hit["routing"]["cache_hit"] == "exact"
    assert len(counter.starts) == 1 and counter.ends == 1
    if mode == "stream":
        assert counter.tokens >= hit["chunks"] == 6


def test_a_pool_caches_under_its_own_name(manager_for: ManagerFor) -> None:
    pools = {"p": {"task_groups": ["g"], "cache": {}}}
    factory = LLMWrapperFactory(manager_for(MODELS, {"g": group()}, pools))
    pool = factory.create_polling_pool_wrapper("p_wrapper", {"pool": "p"})
    group_wrapper = factory.create_task_group_wrapper("g_wrapper", {"target": "g", "cache": {}})
    call(pool, "invoke")
    hit = call(pool, "stream")["routing"]
    assert (hit["cache_hit"], hit["pool"], hit["target"]) == ("exact", "p", "p")
    assert call(group_wrapper, "invoke")["routing"]["cache_hit"] is False  # another route


def test_a_corrupt_entry_is_dropped_and_the_call_routed(
    manager_for: ManagerFor, caplog: pytest.LogCaptureFixture
) -> None:
    llm = wrapper(manager_for)
    call(llm, "invoke")
    cache = llm.response_cache
    assert cache is not None
    key = cache.key_for([HumanMessage("hello")], None, {})
    assert key is not None and cache.store.get(key.exact) is not None
    cache.store.put(key.exact, b"j{broken", 60.0, key.context, None)
    with caplog.at_level(logging.WARNING):
        assert call(llm, "invoke")["routing"]["cache_hit"] is False
    assert "dropped" in caplog.text and llm.get_stats()["cache"]["dropped"] == 1
    assert call(llm, "invoke")["routing"]["cache_hit"] == "exact"  # stored again
