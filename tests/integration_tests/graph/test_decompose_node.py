"""The `decompose` workflow node over real ChatOpenAI-based wrappers and the simulator: parts
answered in parallel, Chinese and English, a model splitter and its fallback, synthesis, a
failing branch under each `on_error`, and neighbours from a semantic cache as context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from infrastructure.graph.nodes.decompose_node import CONTEXT_HEADING
from infrastructure.graph.workflow import build_workflow
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.sim import FaultMode
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import StartSim, openai_model, write_config

EN = "What is Redis and how does it persist data?"
ZH = "Python是什么以及如何安装它？"
THREE = "1. What is Redis? 2. How does it persist data? 3. Is it single-threaded?"


class Fleet:
    """Simulators behind the groups the tests name, and the factory over them."""

    def __init__(self, start_sim: StartSim, root: Path, flaky: FaultMode | None = None) -> None:
        self.answers = start_sim("slow:0.4")
        self.splitter = start_sim("healthy")
        self.junk = start_sim("bad_json")
        self.synth = start_sim("healthy")
        self.vectors = start_sim("healthy")
        self.flaky = start_sim(flaky or FaultMode("error_rate", error_rate=0.5, seed=0))
        sims = {
            "answers": self.answers,
            "splitter": self.splitter,
            "junk": self.junk,
            "synth": self.synth,
            "flaky": self.flaky,
        }
        models: dict[str, Any] = {name: openai_model(s.base_url) for name, s in sims.items()}
        models["vectors"] = {
            "kind": "embeddings",
            "provider": "openai",
            "model": "sim-embeddings",
            "base_url": self.vectors.base_url,
            "api_key": "sk-embeddings-secret",
        }
        groups: dict[str, dict[str, Any]] = {
            name: {"echelon1": {"models": [name], "max_retries": 0}} for name in sims
        }
        groups["cached"] = {
            "echelon1": {"models": ["answers"], "max_retries": 0},
            "cache": {"mode": "semantic", "embeddings": "vectors"},
        }
        self.factory = LLMWrapperFactory.from_config_dir(write_config(root, models, groups))


@pytest.fixture
def fleet(start_sim: StartSim, tmp_path: Path) -> Iterator[Fleet]:
    built = Fleet(start_sim, tmp_path / "llms")
    with built.factory:
        yield built


def decompose(fleet: Fleet, **config: Any) -> Any:
    workflow = {"nodes": {"parts": {"type": "decompose", "config": config}}}
    return build_workflow(workflow, fleet.factory)


def ask(question: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(question)]}


def test_an_english_question_is_answered_part_by_part_in_parallel(fleet: Fleet) -> None:
    result = decompose(fleet, answer_wrapper="answers_wrapper").invoke(ask(EN))
    record = result["decomposition"]
    assert record["sub_questions"] == ["What is Redis?", "How does it persist data?"]
    assert (record["splitter"], record["fallback"]) == ("rules", None)
    assert [a["answer"] for a in record["answers"]] == [
        "Simulated reply to: What is Redis?",
        "Simulated reply to: How does it persist data?",
    ]
    assert result["messages"][-1].content == (
        "### 1. What is Redis?\n\nSimulated reply to: What is Redis?\n\n"
        "### 2. How does it persist data?\n\nSimulated reply to: How does it persist data?"
    )
    # Both parts were at the simulator at once: a sequential run would peak at one.
    assert fleet.answers.stats.peak_in_flight == 2
    assert "errors" not in result


def test_a_chinese_question_async_with_a_synthesised_answer(fleet: Fleet) -> None:
    graph = decompose(
        fleet, answer_wrapper="answers_wrapper", merge="synthesize", merge_wrapper="synth_wrapper"
    )
    result = asyncio.run(graph.ainvoke(ask(ZH)))
    record = result["decomposition"]
    assert record["sub_questions"] == ["Python是什么？", "如何安装它？"]
    assert [a["answer"] for a in record["answers"]] == [
        "Simulated reply to: Python是什么？",
        "Simulated reply to: 如何安装它？",
    ]
    assert fleet.answers.stats.peak_in_flight == 2
    (synthesis,) = fleet.synth.requests
    sent = synthesis.body["messages"][-1]["content"]
    assert sent.startswith(f"Question: {ZH}\n\nPart 1: Python是什么？\n")
    assert result["messages"][-1].content == f"Simulated reply to: {sent}"


def test_a_model_splitter_is_asked_for_structured_output(fleet: Fleet) -> None:
    graph = decompose(
        fleet, answer_wrapper="answers_wrapper", splitter="llm", split_wrapper="splitter_wrapper"
    )
    record = graph.invoke(ask(EN))["decomposition"]
    (request,) = fleet.splitter.requests
    assert request.body["response_format"]["type"] == "json_schema"
    # The simulator fills the schema's list with the quoted question: one part, not the rules' two.
    assert (record["splitter"], record["sub_questions"]) == ("llm", [EN])


def test_unusable_model_output_falls_back_to_the_rules_and_says_so(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    graph = decompose(
        fleet, answer_wrapper="answers_wrapper", splitter="llm", split_wrapper="junk_wrapper"
    )
    with caplog.at_level(logging.WARNING):
        record = graph.invoke(ask(EN))["decomposition"]
    assert record["splitter"] == "rules" and record["fallback"]
    assert record["sub_questions"] == ["What is Redis?", "How does it persist data?"]
    assert "split_wrapper 'junk_wrapper' gave no usable sub-questions" in caplog.text
    assert "sk-test-secret" not in caplog.text


def test_a_failing_branch_becomes_a_message_with_on_error_message(fleet: Fleet) -> None:
    graph = decompose(fleet, answer_wrapper="flaky_wrapper", on_error="message")
    result = graph.invoke(ask(THREE))
    answers = result["decomposition"]["answers"]
    failed = [a for a in answers if a["error"] is not None]
    # The seeded simulator fails exactly one of the first three completions.
    assert len(failed) == 1 and fleet.flaky.stats.errors_sent == 1
    (bad,) = failed
    assert (
        bad["answer"] == "Sorry, the AI service is temporarily unavailable. "
        "Please try again in a little while."
    )
    assert result["errors"] == [bad["error"]] and result["last_error"] == bad["error"]
    reply = result["messages"][-1].content
    for item in answers:
        assert f"{item['question']}\n\n{item['answer']}" in reply
    good = [a for a in answers if a["error"] is None]
    assert [a["answer"] for a in good] == [f"Simulated reply to: {a['question']}" for a in good]


def test_a_failing_branch_fails_the_node_with_on_error_raise(fleet: Fleet) -> None:
    graph = decompose(fleet, answer_wrapper="flaky_wrapper")
    with pytest.raises(AllTargetsFailedError):
        graph.invoke(ask(THREE))


def test_a_chinese_failure_message_when_asked(fleet: Fleet) -> None:
    fleet.flaky.set_fault(FaultMode("status", status_code=503))
    graph = decompose(
        fleet, answer_wrapper="flaky_wrapper", on_error="message", error_language="zh"
    )
    answers = graph.invoke(ask(ZH))["decomposition"]["answers"]
    assert [a["answer"] for a in answers] == ["抱歉，AI 服务暂时不可用，请稍后再试。"] * 2


def test_neighbours_from_the_semantic_cache_are_added_as_context(fleet: Fleet) -> None:
    cached = fleet.factory.get_wrapper("cached_wrapper")
    cached.invoke("What is Redis?")  # stored with its question
    graph = decompose(fleet, answer_wrapper="cached_wrapper", cache_context=True)
    record = graph.invoke(ask(EN))["decomposition"]
    first, second = record["answers"]
    assert [n["question"] for n in first["context"]] == ["What is Redis?"]
    assert first["context"][0]["similarity"] == pytest.approx(1.0)
    assert second["context"] == []
    sent = {r.body["messages"][-1]["content"]: r.body["messages"] for r in fleet.answers.requests}
    system = sent["What is Redis?"][0]
    assert system["role"] == "system"
    assert system["content"] == (
        f"{CONTEXT_HEADING}\n\nQ: What is Redis?\nA: Simulated reply to: What is Redis?"
    )
    assert [m["role"] for m in sent["How does it persist data?"]] == ["user"]


def test_cache_context_needs_a_semantic_cache(fleet: Fleet) -> None:
    with pytest.raises(
        Exception,
        match=r"nodes\.parts\.config: node 'parts': cache_context: "
        r"wrapper 'answers_wrapper' has no semantic cache",
    ):
        decompose(fleet, answer_wrapper="answers_wrapper", cache_context=True)
