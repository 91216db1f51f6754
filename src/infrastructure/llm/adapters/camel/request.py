"""CAMEL's request (OpenAI-format messages, tool schemas, its model config) as a wrapper call:
LangChain messages, the wrapper with its tools bound, and the call's keyword arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.runnables import Runnable
from pydantic import BaseModel

# Model-config keys the adapter handles itself rather than passing on to every instance.
_HANDLED = frozenset({"stream", "stream_options", "tools", "tool_choice", "response_format"})


@dataclass(frozen=True)
class WrapperCall:
    """One CAMEL request, ready to send: `model.invoke(messages, **kwargs)` (or stream)."""

    model: Runnable[LanguageModelInput, Any]
    messages: list[BaseMessage]
    kwargs: dict[str, Any]


def wrapper_call(
    wrapper: BaseChatModel,
    messages: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    tools: list[dict[str, Any]] | None,
    response_format: type[BaseModel] | None,
) -> WrapperCall:
    """The wrapper call for CAMEL's `messages` with `tools`, `response_format` and the rest of
    its model `config` (temperature, max_tokens, ...) sent to whichever instance answers."""
    kwargs = {key: value for key, value in config.items() if key not in _HANDLED}
    schema = response_format or config.get("response_format")
    if schema is not None:
        kwargs["response_format"] = _response_format(schema)
    model: Runnable[LanguageModelInput, Any] = wrapper
    tools = tools if tools is not None else config.get("tools")
    if tools:
        model = wrapper.bind_tools(tools, tool_choice=config.get("tool_choice"))
    return WrapperCall(model, convert_to_messages([dict(m) for m in messages]), kwargs)


def _response_format(schema: type[BaseModel] | Mapping[str, Any]) -> Any:
    """A pydantic class as OpenAI's `json_schema` response format; a dict is sent as it is."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
        }
    return schema
