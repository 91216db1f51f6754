"""What identifies a cached answer: everything in a call that changes the answer, hashed.

The exact key covers the namespace, the route (the group, target or pool, never the instance
that served it), the messages, `stop`, and every call parameter (tools, `tool_choice`,
`response_format`, model override, temperature, `max_tokens`, and any other the caller
passes). The semantic *context* is the same minus the text that is embedded: two requests
are semantic neighbours only when everything but that text is equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel


class EmbedText(str, Enum):
    """Which text of a request a semantic lookup embeds."""

    LAST_USER_MESSAGE = "last_user_message"
    ALL_USER_MESSAGES = "all_user_messages"


@dataclass(frozen=True)
class RequestKey:
    """A request's cache identity: `exact` and `context` are hex digests; `text` is what a
    semantic lookup embeds (None when the request has no user text)."""

    exact: str
    context: str
    text: str | None


def request_key(
    namespace: str,
    route: str,
    messages: Sequence[BaseMessage],
    stop: list[str] | None,
    params: dict[str, Any],
    embed: EmbedText = EmbedText.LAST_USER_MESSAGE,
) -> RequestKey:
    """The key of one call; `params` are the call's keyword arguments."""
    wire = [_message_fields(message) for message in messages]
    call = {
        "namespace": namespace,
        "route": route,
        "stop": stop,
        "params": {k: v for k, v in params.items() if not k.startswith("ls_")},
    }
    exact = _digest({**call, "messages": wire})
    embedded = _embedded_positions(messages, embed)
    if not embedded:
        return RequestKey(exact, exact, None)
    text = "\n".join(_text(messages[i]) for i in embedded)
    for i in embedded:
        wire[i] = {**wire[i], "content": None}
    return RequestKey(exact, _digest({**call, "messages": wire}), text)


def _embedded_positions(messages: Sequence[BaseMessage], embed: EmbedText) -> list[int]:
    users = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and _text(m)]
    if embed is EmbedText.LAST_USER_MESSAGE:
        return users[-1:]
    return users


def _text(message: BaseMessage) -> str:
    return str(message.text)


def _message_fields(message: BaseMessage) -> dict[str, Any]:
    """What of a message reaches the server: role, content, name and tool-call links."""
    fields: dict[str, Any] = {"type": message.type, "content": message.content}
    if message.name is not None:
        fields["name"] = message.name
    if isinstance(message, AIMessage) and message.tool_calls:
        fields["tool_calls"] = [
            {"id": call.get("id"), "name": call["name"], "args": call["args"]}
            for call in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        fields["tool_call_id"] = message.tool_call_id
    return fields


def _digest(value: dict[str, Any]) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """JSON for what `json` cannot write: pydantic schemas and models, enums, sets."""
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)
