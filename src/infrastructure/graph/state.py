"""The state of graphs that `build_workflow` makes: messages, plus what nodes record."""

from __future__ import annotations

from langgraph.graph import MessagesState

from infrastructure.graph.error_handler import ErrorRecord
from infrastructure.graph.nodes.decompose_node import Decomposition


class WorkflowState(MessagesState, total=False):
    """`messages`; `decomposition` from a decompose node; `errors`, `last_error` and
    `user_message` from a node whose failure `on_error: message` turned into a reply."""

    decomposition: Decomposition
    errors: list[ErrorRecord]
    last_error: ErrorRecord
    user_message: str
