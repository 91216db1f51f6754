"""What a LangChain trace of a routed call shows: the routing facts in the run's outputs
(`generation_info["routing"]`, not only the message's metadata), each fallback hop as a
custom event on the run of an invoke, and still one run per call, over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.wrappers.run_events import FALLBACK_EVENT

from conftest import StartSim, openai_model, write_config

FACTS = {
    "group",
    "echelon",
    "instance",
    "attempts",
    "fallbacks",
    "hedged",
    "cache_hit",
    "latency_ms",
}


class Trace(BaseCallbackHandler):
    """What a tracer would record: runs started, their outputs, and custom events."""

    def __init__(self) -> None:
        self.runs: list[UUID] = []
        self.outputs: list[Any] = []
        self.events: list[tuple[str, Any, UUID]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self.runs.append(run_id)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.outputs.append(response)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_routing_facts_and_hops_reach_the_trace(
    tmp_path: Path, start_sim: StartSim, mode: str
) -> None:
    models = {
        "bad": openai_model(start_sim("error_rate:1.0").base_url),
        "good": openai_model(start_sim("healthy").base_url),
    }
    groups = {
        "g": {"echelon1": {"models": ["bad"], "max_retries": 0}, "echelon2": {"models": ["good"]}}
    }
    directory = write_config(tmp_path / "llms", models, groups)
    trace = Trace()
    config = {"callbacks": [trace]}
    with LLMWrapperFactory.from_config_dir(directory) as factory:
        llm = factory.get_wrapper("g_wrapper")
        if mode == "invoke":
            llm.invoke("hi", config=config)
        elif mode == "ainvoke":
            asyncio.run(llm.ainvoke("hi", config=config))
        elif mode == "stream":
            list(llm.stream("hi", config=config))
        else:

            async def consume() -> None:
                async for _ in llm.astream("hi", config=config):
                    pass

            asyncio.run(consume())
    assert len(trace.runs) == 1 and len(trace.outputs) == 1
    routing = trace.outputs[0].generations[0][0].generation_info["routing"]
    assert routing.keys() >= FACTS
    assert (routing["instance"], routing["echelon"], routing["fallbacks"]) == ("good#0", 2, 1)
    if mode in ("stream", "astream"):
        # LangChain's stream() does not hand the model its run: no events to send them to.
        assert trace.events == []
        return
    [(name, data, run_id)] = trace.events
    assert (name, run_id) == (FALLBACK_EVENT, trace.runs[0])
    assert (data["from_target"], data["to_target"]) == ("g.echelon1", "g.echelon2")
    assert data["error_type"] and "500" in data["reason"]
