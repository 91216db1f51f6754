"""A workflow node as a LangChain runnable: a state in, the state update out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig


class StateNode(Runnable[dict[str, Any], dict[str, Any]], ABC):
    """A node whose `execute`/`aexecute` turn a graph state into its update; `invoke` and
    `ainvoke` are those, so the node can be added to a graph or called as a runnable."""

    @abstractmethod
    def execute(
        self, state: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The state update for `state`."""

    @abstractmethod
    async def aexecute(
        self, state: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Async twin of `execute`."""

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self.execute(input, config)

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self.aexecute(input, config)
