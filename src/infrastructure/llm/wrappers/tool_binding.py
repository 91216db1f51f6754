"""Turn LangChain tool definitions into the OpenAI tool format every routed provider receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool


def format_tools(
    tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
    tool_choice: dict[str, Any] | str | bool | None,
    strict: bool | None,
) -> dict[str, Any]:
    """Keyword arguments (`tools`, maybe `tool_choice`) to bind for these tools."""
    formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
    names = {tool["function"]["name"] for tool in formatted if "function" in tool}
    bound: dict[str, Any] = {"tools": formatted}
    if tool_choice is None or tool_choice is False:
        return bound
    if tool_choice is True or tool_choice == "any":
        choice: Any = "required"
    elif isinstance(tool_choice, str) and tool_choice in names:
        choice = {"type": "function", "function": {"name": tool_choice}}
    elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
        raise ValueError(
            f"tool_choice {tool_choice!r} names no bound tool; bound tools: {sorted(names)}"
        )
    else:
        choice = tool_choice
    bound["tool_choice"] = choice
    return bound
