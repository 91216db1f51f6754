"""Seed 004's names work as the seed writes them: import paths, `generate_async`, and the
`llm_client` node setting (docs/porting.md lists them). Mock-provider models: no sockets."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from infrastructure.graph.nodes.llm_node import LLMNode
from infrastructure.graph.workflow import WorkflowBuilder, WorkflowConfigError
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import write_config

# (module the seed imports from, name) -> the module that defines the name here.
SEED_IMPORTS = {
    ("infrastructure.llm.wrappers", "LLMWrapperFactory"): "infrastructure.llm.wrappers.factory",
    ("infrastructure.llm.polling_pool", "PollingPoolManager"): (
        "infrastructure.llm.fleet.polling_pool_manager"
    ),
    ("infrastructure.llm.enhanced_fallback_manager", "EnhancedFallbackManager"): (
        "infrastructure.llm.routing.fallback"
    ),
    ("infrastructure.llm.task_group_manager", "TaskGroupManager"): (
        "infrastructure.llm.fleet.task_group_manager"
    ),
    ("infrastructure.llm", "ErrorHandler"): "infrastructure.graph.error_handler",
    ("infrastructure.llm.migration", "ConfigMigrator"): "infrastructure.llm.migration.migrator",
    ("infrastructure.graph.nodes.llm_node", "LLMNode"): "infrastructure.graph.nodes.llm_node",
}


@pytest.mark.parametrize(("seed_path", "defined_in"), list(SEED_IMPORTS.items()), ids=str)
def test_the_seeds_import_path_gives_the_packages_class(
    seed_path: tuple[str, str], defined_in: str
) -> None:
    module, name = seed_path
    imported = getattr(importlib.import_module(module), name)
    assert imported is getattr(importlib.import_module(defined_in), name)


@pytest.fixture
def factory(tmp_path: Path) -> LLMWrapperFactory:
    """Group `g` and pool `p` over one mock-provider model; wrappers `g_wrapper`, `p_wrapper`."""
    models = {"m": {"provider": "mock", "model": "echo"}}
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    pools = {"p": {"task_groups": ["g"]}}
    return LLMWrapperFactory.from_config_dir(write_config(tmp_path / "llms", models, groups, pools))


@pytest.mark.parametrize("wrapper", ["g_wrapper", "p_wrapper"])
def test_generate_async_answers_like_ainvoke(factory: LLMWrapperFactory, wrapper: str) -> None:
    model = factory.get_wrapper(wrapper)
    response = asyncio.run(model.generate_async([HumanMessage(content="你好，请介绍一下自己")]))
    assert isinstance(response, AIMessage)
    assert response.content == "Mock reply to: 你好，请介绍一下自己"
    assert model.get_stats()["successful_requests"] == 1


def reply(node: LLMNode, config: dict[str, Any]) -> str:
    result = node.execute({"messages": [HumanMessage("hi")]}, config)
    return str(result["messages"][0].content)


def test_llm_client_setting_may_be_a_chat_model(factory: LLMWrapperFactory) -> None:
    node = LLMNode(MockChatModel(reply_prefix="default:"), factory)
    assert (
        reply(node, {"llm_client": MockChatModel(reply_prefix="configured:")}) == "configured: hi"
    )
    assert reply(node, {}) == "default: hi"


def test_llm_client_setting_may_name_a_wrapper(factory: LLMWrapperFactory) -> None:
    node = LLMNode(MockChatModel(reply_prefix="default:"), factory)
    assert reply(node, {"configurable": {"llm_client": "g_wrapper"}}) == "Mock reply to: hi"
    assert factory.get_wrapper("g_wrapper").get_stats()["total_requests"] == 1


def test_a_named_wrapper_group_or_pool_wins_over_llm_client(factory: LLMWrapperFactory) -> None:
    node = LLMNode(None, factory)
    configured = MockChatModel(reply_prefix="configured:")
    assert reply(node, {"llm_client": configured, "polling_pool": "p"}) == "Mock reply to: hi"
    assert factory.get_wrapper("p_wrapper").get_stats()["total_requests"] == 1


def test_an_unknown_llm_client_name_is_refused_by_name(factory: LLMWrapperFactory) -> None:
    node = LLMNode(None, factory)
    with pytest.raises(LLMWrapperError, match="no wrapper named 'nope'"):
        reply(node, {"llm_client": "nope"})


def test_a_named_llm_client_needs_a_factory() -> None:
    node = LLMNode(None, None)
    with pytest.raises(LLMWrapperError, match="'g_wrapper' is named but the node has no"):
        reply(node, {"llm_client": "g_wrapper"})


def test_a_workflow_node_may_name_its_llm_client(factory: LLMWrapperFactory) -> None:
    builder = WorkflowBuilder(factory)
    graph = builder.build(
        {"nodes": {"n": {"type": "llm_node", "config": {"llm_client": "g_wrapper"}}}}
    )
    out = graph.invoke({"messages": [HumanMessage("hi")]})
    assert out["messages"][-1].content == "Mock reply to: hi"
    with pytest.raises(WorkflowConfigError, match=r"nodes\.n\.config: no wrapper named 'nope'"):
        builder.build({"nodes": {"n": {"type": "llm_node", "config": {"llm_client": "nope"}}}})
