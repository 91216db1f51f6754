"""Workflow configs become compiled graphs over wrappers backed by a simulator; bad ones fail
at build time, saying where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import HumanMessage

from infrastructure.graph.workflow import WorkflowConfigError, build_workflow
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import StartSim, openai_model, write_config

HI = {"messages": [HumanMessage("hi")]}


@pytest.fixture
def factory(start_sim: StartSim, tmp_path: Path) -> LLMWrapperFactory:
    sim = start_sim("healthy")
    models = {"m": openai_model(sim.base_url)}
    groups: dict[str, dict[str, Any]] = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"]}}
    return LLMWrapperFactory.from_config_dir(write_config(tmp_path / "llms", models, groups, pools))


def test_the_seed_workflow_config_builds_and_runs(factory: LLMWrapperFactory) -> None:
    workflow = {
        "nodes": {
            "llm_node": {
                "type": "llm_node",
                "config": {
                    "llm_wrapper": "p_wrapper",
                    "system_prompt": "You are a quick assistant",
                    "max_tokens": 1000,
                },
            }
        }
    }
    result = build_workflow(workflow, factory).invoke(HI)
    reply = result["messages"][-1]
    assert reply.content == "Simulated reply to: hi"
    assert reply.response_metadata["routing"]["pool"] == "p"


def test_nodes_without_edges_run_in_the_order_listed(factory: LLMWrapperFactory) -> None:
    workflow = {
        "nodes": {
            "first": {"type": "llm_node", "config": {"task_group": "g"}},
            "second": {"type": "llm_node", "config": {"polling_pool": "p"}},
        }
    }
    result = build_workflow(workflow, factory).invoke(HI)
    replies = result["messages"][1:]
    # The simulator answers the last user message; routing shows who answered, in order.
    assert [m.response_metadata["routing"]["wrapper"] for m in replies] == [
        "g_wrapper",
        "p_wrapper",
    ]


def test_a_yaml_workflow_with_edges_and_a_default_client(
    factory: LLMWrapperFactory, tmp_path: Path
) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "nodes": {
                    "draft": {"type": "llm_node", "config": {}},
                    "polish": {"type": "llm_node", "config": {"llm_wrapper": "g_wrapper"}},
                },
                "edges": [{"from": "draft", "to": "polish"}, ["polish", "END"]],
                "entry_point": "draft",
                "finish_point": "polish",
            }
        )
    )
    graph = build_workflow(path, factory, llm_client=MockChatModel())
    result = graph.invoke(HI)
    assert [m.content for m in result["messages"]][1:] == [
        "Mock reply to: hi",
        "Simulated reply to: hi",
    ]


def test_every_problem_is_reported_at_build_time_with_where(
    factory: LLMWrapperFactory,
) -> None:
    workflow = {
        "nodes": {
            "a": {"type": "llm_node", "config": {"llm_wrapper": "missing_wrapper"}},
            "b": {"type": "tool_node", "config": {}},
            "c": {"type": "llm_node", "config": {"task_group": "nope"}},
            "d": {"type": "llm_node", "config": {"polling_pool": "nopool"}},
            "e": {"type": "llm_node", "config": {"max_tokens": -1, "llm_wrapper": "g_wrapper"}},
        },
        "edges": [["a", "ghost"], ["b", "c"]],
        "entry_point": "zzz",
        "extra": 1,
    }
    with pytest.raises(WorkflowConfigError) as caught:
        build_workflow(workflow, factory)
    message = str(caught.value)
    for expected in (
        "extra: unknown key",
        "nodes.a.config: no wrapper named 'missing_wrapper'",
        "nodes.b.type: unknown node type 'tool_node' (known: decompose, llm_node)",
        "nodes.c.config: unknown task group 'nope'",
        "nodes.d.config: unknown polling pool 'nopool'",
        "nodes.e.config: settings: max_tokens",
        "edges[0].to: unknown node 'ghost'",
        "entry_point: unknown node 'zzz'",
    ):
        assert expected in message


def test_a_node_with_no_model_and_no_default_client_is_rejected(
    factory: LLMWrapperFactory,
) -> None:
    with pytest.raises(WorkflowConfigError, match=r"nodes\.a\.config: names no llm_wrapper"):
        build_workflow({"nodes": {"a": {"type": "llm_node"}}}, factory)
