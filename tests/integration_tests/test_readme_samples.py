"""The README's Python samples run as written, from a directory holding `llm-wrappers init`'s
copy of the example config, with that config pointed at simulators: the hosted models at a
dead address, the local fleet at a healthy simulator. No sample reaches a paid API."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from infrastructure.llm.example_config import copy_example_config, endpoint_environment

from conftest import StartSim

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(after_heading: str | None = None) -> list[str]:
    """The ```python blocks of the README, or of the section under `after_heading`."""
    text = README.read_text()
    if after_heading is not None:
        section = text.split(f"\n{after_heading}\n", 1)[1]
        text = re.split(r"\n## ", section, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def run(source: str, namespace: dict[str, Any]) -> list[Any]:
    """Execute `source` in `namespace`; returns the value of each bare expression statement,
    as a REPL would show them."""
    tree = ast.parse(source)
    shown: list[Any] = []
    namespace["_show"] = shown.append
    for index, statement in enumerate(tree.body):
        if isinstance(statement, ast.Expr):
            call = ast.Call(ast.Name("_show", ast.Load()), [statement.value], [])
            tree.body[index] = ast.Expr(call)
    exec(compile(ast.fix_missing_locations(tree), str(README), "exec"), namespace)
    return shown


@pytest.fixture(autouse=True)
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_sim: StartSim, dead_url: str
) -> None:
    """A project directory with configs/llms, and the example's URLs set as sim prints them."""
    copy_example_config(tmp_path / "configs" / "llms")
    monkeypatch.chdir(tmp_path)
    healthy = start_sim("healthy").base_url
    urls = [dead_url, dead_url, healthy, healthy, healthy, healthy]
    for name, url in endpoint_environment(urls).items():
        monkeypatch.setenv(name, url)


def test_the_first_sample_and_the_langgraph_one_that_uses_its_llm() -> None:
    namespace: dict[str, Any] = {}
    (answer,) = run(python_blocks()[0], namespace)
    assert isinstance(answer, AIMessage)
    # Echelon 1 (the hosted models) is down: the local fleet answered.
    assert answer.response_metadata["routing"]["target"] == "fast_group.echelon2"
    assert answer.content == "Simulated reply to: Hello"
    graph_sample = python_blocks("## Using it")[1]
    assert "graph.stream" in graph_sample
    run(graph_sample, namespace)
    assert namespace["llm"].get_stats()["successful_requests"] == 2


def test_the_wrapper_sample_shows_what_its_fallback_list_does() -> None:
    namespace: dict[str, Any] = {}
    shown = run(python_blocks("## Using it")[0], namespace)
    routing = namespace["msg"].response_metadata["routing"]
    sample = python_blocks("## Using it")[0]
    printed = re.search(r"# (\{'wrapper': 'fast_wrapper'.*?\})\n", sample.replace("\n#  ", " "))
    assert printed, "the sample shows the routing metadata"
    expected = ast.literal_eval(printed.group(1))
    assert routing.keys() == expected.keys()
    for key in ("wrapper", "group", "echelon", "target", "model", "instance", "fallbacks"):
        assert routing[key] == expected[key], key
    assert shown[0] is True  # get_wrapper("fast_wrapper") is fast
    health = shown[-1]
    pool = health["fast_pool_wrapper"]
    assert pool["instances"]["openai-gpt4#0"]["healthy"] is False
    assert pool["instances"]["local-qwen#vllm-1"] == {
        "healthy": True,
        "error": None,
        "in_rotation": True,
    }
    assert pool["healthy_instances"] == 4  # three simulated vLLM instances and the mock


def test_the_llm_node_sample_runs_as_written() -> None:
    sample, _ = python_blocks("## LangGraph: nodes and workflows by name")
    states = [value for value in run(sample, {}) if isinstance(value, dict)]
    executed, invoked, built = states
    assert executed["messages"][0].content == "Simulated reply to: What is a polling pool?"
    assert executed["messages"][0].response_metadata["routing"]["pool"] == "thinking_pool"
    assert invoked["messages"][-1].content == "Simulated reply to: What is a polling pool?"
    assert invoked["messages"][-1].response_metadata["routing"]["wrapper"] == "fast_group_wrapper"
    assert built["messages"][-1].content == "Simulated reply to: hi"
    assert built["messages"][-1].response_metadata["routing"]["wrapper"] == "thinking_group_wrapper"


def test_the_decompose_sample_splits_answers_and_merges() -> None:
    _, sample = python_blocks("## LangGraph: nodes and workflows by name")
    sub_questions, merged = run(sample, {})
    assert sub_questions == ["What is Redis?", "How does it persist data?"]
    assert merged == (
        "### 1. What is Redis?\n\nSimulated reply to: What is Redis?\n\n"
        "### 2. How does it persist data?\n\nSimulated reply to: How does it persist data?"
    )
