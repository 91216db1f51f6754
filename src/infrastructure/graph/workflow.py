"""Build a compiled LangGraph graph from a workflow config (a dict or a YAML file).

    nodes:
      draft:  {type: llm_node, config: {llm_wrapper: fast_group_wrapper, system_prompt: ...}}
      polish: {type: llm_node, config: {polling_pool: thinking_pool}}
      parts:  {type: decompose, config: {answer_wrapper: fast_group_wrapper}}
    edges: [[draft, polish]]      # optional: without edges the nodes run in the order listed
    entry_point: draft            # optional: the first node
    finish_point: polish          # optional: the last node

Every problem (unknown node type or key, a wrapper, group or pool that does not exist, an
edge to a missing node) is reported at build time, all at once, with where it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from infrastructure.graph.nodes.decompose_node import DecomposeNode
from infrastructure.graph.nodes.llm_node import LLMNode, LLMNodeSettings
from infrastructure.graph.state import WorkflowState
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

NodeMaker = Callable[[str, Mapping[str, Any]], Runnable[Any, Any]]

_WORKFLOW_KEYS = frozenset({"nodes", "edges", "entry_point", "finish_point"})
_NODE_KEYS = frozenset({"type", "config"})
_ENDPOINTS = {"START": START, START: START, "END": END, END: END}


class WorkflowConfigError(LLMWrapperError):
    """A workflow config that cannot become a graph; the message lists every problem."""


class WorkflowBuilder:
    """Turns workflow configs into compiled graphs whose LLM nodes use one wrapper factory."""

    def __init__(
        self,
        wrapper_factory: LLMWrapperFactory | None = None,
        llm_client: BaseChatModel | None = None,
        *,
        state_schema: type[Any] = WorkflowState,
        node_types: Mapping[str, NodeMaker] | None = None,
    ) -> None:
        self.wrapper_factory = wrapper_factory
        self.llm_client = llm_client
        self.state_schema = state_schema
        self.node_types: dict[str, NodeMaker] = {
            "llm_node": self._llm_node,
            "decompose": self._decompose_node,
        }
        self.node_types.update(node_types or {})

    def build(
        self, workflow: Mapping[str, Any] | str | Path, **compile_kwargs: Any
    ) -> CompiledStateGraph:
        """Validate `workflow` (a dict or a YAML file path) and compile it."""
        where = ""
        if isinstance(workflow, (str, Path)):
            where = f"{workflow}: "
            workflow = _read_yaml(Path(workflow))
        problems: list[str] = []
        graph = self._graph(workflow, problems)
        if problems:
            raise WorkflowConfigError(
                "invalid workflow config:\n" + "\n".join(f"  {where}{p}" for p in problems)
            )
        assert graph is not None
        return graph.compile(**compile_kwargs)

    def _graph(self, workflow: Mapping[str, Any], problems: list[str]) -> StateGraph | None:
        if not _check_mapping(
            workflow,
            problems,
            not_a_mapping=f"expected a mapping with 'nodes', got {type(workflow).__name__}",
            key_prefix="",
            allowed=_WORKFLOW_KEYS,
            expected_keys=f"some of {sorted(_WORKFLOW_KEYS)}",
        ):
            return None
        nodes = workflow.get("nodes")
        if not isinstance(nodes, Mapping) or not nodes:
            problems.append("nodes: expected a mapping of node name to {type, config}")
            return None
        graph = StateGraph(self.state_schema)
        for name, spec in nodes.items():
            node = self._node(str(name), spec, problems)
            if node is not None:
                graph.add_node(str(name), node)
        names = [str(name) for name in nodes]
        entry = self._endpoint(workflow, "entry_point", names, problems) or names[0]
        finish = self._endpoint(workflow, "finish_point", names, problems) or names[-1]
        edges = self._edges(workflow.get("edges"), names, problems)
        sources = {source for source, _ in edges}
        if START not in sources:
            graph.add_edge(START, entry)
        for source, target in edges:
            graph.add_edge(source, target)
        if finish not in sources:
            graph.add_edge(finish, END)
        return graph

    def _node(self, name: str, spec: Any, problems: list[str]) -> Runnable[Any, Any] | None:
        where = f"nodes.{name}"
        if not _check_mapping(
            spec,
            problems,
            not_a_mapping=f"{where}: expected a mapping with 'type' and 'config'",
            key_prefix=f"{where}.",
            allowed=_NODE_KEYS,
            expected_keys="'type' and 'config'",
        ):
            return None
        kind = spec.get("type")
        maker = self.node_types.get(kind) if isinstance(kind, str) else None
        if maker is None:
            known = ", ".join(sorted(self.node_types))
            problems.append(f"{where}.type: unknown node type {kind!r} (known: {known})")
            return None
        config = spec.get("config") or {}
        if not isinstance(config, Mapping):
            problems.append(f"{where}.config: expected a mapping")
            return None
        try:
            return maker(name, config)
        except LLMWrapperError as exc:
            problems.append(f"{where}.config: {exc}")
            return None

    def _llm_node(self, name: str, config: Mapping[str, Any]) -> LLMNode:
        """An LLMNode whose named wrapper, group or pool is checked to exist now."""
        settings = LLMNodeSettings.parse(config, "settings")
        factory = self.wrapper_factory
        named = settings.named()
        if named is None and self.llm_client is None and settings.llm_client is None:
            raise LLMWrapperError(
                "names no llm_wrapper, task_group, polling_pool or llm_client, and the builder "
                "has no default llm_client"
            )
        if named is not None and factory is None:
            raise LLMWrapperError(f"names {named!r} but the builder has no wrapper_factory")
        if factory is not None:
            if settings.llm_wrapper is not None:
                factory.get_wrapper(settings.llm_wrapper)
            elif settings.task_group is not None:
                factory.task_group_manager.split_target(settings.task_group)
            elif settings.polling_pool is not None:
                factory.polling_pool_manager.pool_config(settings.polling_pool)
            elif named is not None:  # an llm_client given by name
                factory.get_wrapper(named)
        return LLMNode(self.llm_client, factory, config=config, name=name)

    def _decompose_node(self, name: str, config: Mapping[str, Any]) -> DecomposeNode:
        """A DecomposeNode; its settings and the wrappers it names are checked now."""
        if self.wrapper_factory is None:
            raise LLMWrapperError("a decompose node needs the builder's wrapper_factory")
        return DecomposeNode(self.wrapper_factory, config=config, name=name)

    @staticmethod
    def _endpoint(
        workflow: Mapping[str, Any], key: str, names: list[str], problems: list[str]
    ) -> str | None:
        value = workflow.get(key)
        if value is None:
            return None
        if value not in names:
            problems.append(f"{key}: unknown node {value!r} (nodes: {', '.join(names)})")
            return None
        return str(value)

    @staticmethod
    def _edges(raw: Any, names: list[str], problems: list[str]) -> list[tuple[str, str]]:
        """Edges as (source, target) pairs; without any, the nodes in the order listed."""
        if raw is None:
            return list(itertools.pairwise(names))
        if not isinstance(raw, list):
            problems.append("edges: expected a list of [from, to] pairs")
            return []
        edges: list[tuple[str, str]] = []
        for index, edge in enumerate(raw):
            pair = (edge.get("from"), edge.get("to")) if isinstance(edge, Mapping) else edge
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                problems.append(f"edges[{index}]: expected [from, to] or {{from: ..., to: ...}}")
                continue
            resolved = []
            for end, node in zip(("from", "to"), pair, strict=True):
                if node in names or node in _ENDPOINTS:
                    resolved.append(_ENDPOINTS.get(node, node))
                else:
                    problems.append(
                        f"edges[{index}].{end}: unknown node {node!r} (nodes: {', '.join(names)})"
                    )
            if len(resolved) == 2:
                edges.append((resolved[0], resolved[1]))
        return edges


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorkflowConfigError(f"{path}: cannot read workflow config: {exc}") from exc
    except yaml.YAMLError as exc:
        raise WorkflowConfigError(f"{path}: not valid YAML: {exc}") from exc


def build_workflow(
    workflow: Mapping[str, Any] | str | Path,
    wrapper_factory: LLMWrapperFactory | None = None,
    llm_client: BaseChatModel | None = None,
    **compile_kwargs: Any,
) -> CompiledStateGraph:
    """Shortcut for `WorkflowBuilder(wrapper_factory, llm_client).build(workflow)`."""
    return WorkflowBuilder(wrapper_factory, llm_client).build(workflow, **compile_kwargs)


def _check_mapping(
    value: Any,
    problems: list[str],
    *,
    not_a_mapping: str,
    key_prefix: str,
    allowed: Collection[str],
    expected_keys: str,
) -> bool:
    """Note a value that is no mapping, or each key of it that is not `allowed`; True when it
    is a mapping (unknown keys are problems, but the rest can still be checked)."""
    if not isinstance(value, Mapping):
        problems.append(not_a_mapping)
        return False
    problems.extend(
        f"{key_prefix}{key}: unknown key (expected {expected_keys})"
        for key in value
        if key not in allowed
    )
    return True
