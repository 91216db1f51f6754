"""What a simulated model answers to a chat-completion request, decided deterministically."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infrastructure.llm.sim.schema_example import example_value

_PIECE = re.compile(r"\s*\S+\s*")
_QUOTED_PHRASE = re.compile(r"(?<!\w)'([^']+)'(?!\w)|\"([^\"]+)\"")
_QUOTED_KEY = re.compile(r"['\"`]([A-Za-z_]\w*)['\"`]")
_AUTO_CHOICES = (None, "auto", "required", "any")


class RequestError(Exception):
    """The request is invalid; answered with 400 and this message."""


@dataclass(frozen=True)
class ToolCall:
    """One function call the simulated model makes."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class CompletionPlan:
    """Everything needed to render the answer as JSON or as a stream of chunks.

    `prompt` is the prompt's tokens (its words, message after message); `cached_tokens`, when
    known, is how many of them a simulated vLLM found in its prefix cache.
    """

    model: str
    content: str | None
    tool_call: ToolCall | None
    finish_reason: str
    prompt: tuple[str, ...]
    completion_tokens: int
    stream: bool
    include_usage: bool
    cached_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        """How many tokens (words) the prompt has."""
        return len(self.prompt)


def plan_completion(
    body: Any, *, served_model: str, reply: str | None, call_id: str
) -> CompletionPlan:
    """Decide the answer to a parsed request body; raise RequestError if it is invalid."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    messages = _messages(body)
    model = body.get("model") or served_model
    if not isinstance(model, str):
        raise RequestError("'model' must be a string")
    last_role = messages[-1].get("role")
    user_text = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    tool = None if last_role == "tool" else _chosen_tool(body, user_text)
    stream_options = body.get("stream_options") or {}
    common = {
        "model": model,
        "prompt": tuple(word for m in messages for word in _text(m).split()),
        "stream": body.get("stream") is True,
        "include_usage": isinstance(stream_options, dict)
        and stream_options.get("include_usage") is True,
    }
    if tool is not None:
        call = _tool_call(tool, user_text, call_id)
        return CompletionPlan(
            content=None,
            tool_call=call,
            finish_reason="tool_calls",
            completion_tokens=1 + len(split_pieces(call.arguments)),
            **common,
        )
    if last_role == "tool":
        text = f"The tool returned: {_text(messages[-1])}"
    else:
        text = _formatted_reply(body, reply or f"Simulated reply to: {user_text}", user_text)
    content, finish_reason = _limit(text, _stop_sequences(body), _max_tokens(body))
    return CompletionPlan(
        content=content,
        tool_call=None,
        finish_reason=finish_reason,
        completion_tokens=len(split_pieces(content)),
        **common,
    )


def split_pieces(text: str) -> list[str]:
    """Word-sized pieces (with their whitespace) whose concatenation is `text`; our tokens."""
    return _PIECE.findall(text)


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The validated message list."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{index}] must be an object with a 'role'")
    return messages


def _text(message: dict[str, Any]) -> str:
    """A message's text; for multimodal content only the text parts count."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text") for p in content if isinstance(p, dict))
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _chosen_tool(body: dict[str, Any], user_text: str) -> dict[str, Any] | None:
    """The function to call, or None when the request has no tools or forbids calling them."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    functions = [_function(tool, i) for i, tool in enumerate(tools)]
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        match = next((f for f in functions if f["name"] == name), None)
        if match is None:
            raise RequestError(f"tool_choice names {name!r}, which is not in 'tools'")
        return match
    if choice not in _AUTO_CHOICES:
        raise RequestError(f"unsupported tool_choice {choice!r}")
    return next((f for f in functions if f["name"] in user_text), functions[0])


def _function(tool: Any, index: int) -> dict[str, Any]:
    """The `function` part of one tool, validated."""
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise RequestError(f"tools[{index}] must be {{'type': 'function', 'function': {{name}}}}")
    return function


def _tool_call(function: dict[str, Any], user_text: str, call_id: str) -> ToolCall:
    """A call whose arguments fill the function's parameter schema."""
    parameters = function.get("parameters") or {"type": "object"}
    arguments = example_value(parameters, _quoted_phrase(user_text))
    if not isinstance(arguments, dict):
        arguments = {}
    return ToolCall(call_id, function["name"], json.dumps(arguments, ensure_ascii=False))


def _formatted_reply(body: dict[str, Any], text: str, user_text: str) -> str:
    """Apply `response_format`: plain text, a JSON object, or JSON matching a schema."""
    response_format = body.get("response_format")
    if response_format is None:
        return text
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return text
    if kind == "json_object":
        keys = dict.fromkeys(_QUOTED_KEY.findall(user_text))
        value = {k: f"example {k}" for k in keys} if keys else {"answer": text}
        return json.dumps(value, ensure_ascii=False)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise RequestError("response_format.json_schema.schema must be an object")
        return json.dumps(example_value(schema, _quoted_phrase(user_text)), ensure_ascii=False)
    raise RequestError(f"unsupported response_format {response_format!r}")


def _quoted_phrase(text: str) -> str | None:
    """The first phrase the user put in quotes, used for string values."""
    match = _QUOTED_PHRASE.search(text)
    return (match.group(1) or match.group(2)) if match else None


def _stop_sequences(body: dict[str, Any]) -> Sequence[str]:
    """The request's `stop`, as a list."""
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return stop
    raise RequestError("'stop' must be a string or a list of strings")


def _max_tokens(body: dict[str, Any]) -> int | None:
    """`max_completion_tokens` (or legacy `max_tokens`), validated."""
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"max_tokens must be a positive integer, got {value!r}")
    return value


def _limit(text: str, stop: Sequence[str], max_tokens: int | None) -> tuple[str, str]:
    """Cut `text` before the first stop sequence, then to `max_tokens` pieces."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if cuts:
        text = text[: min(cuts)]
    pieces = split_pieces(text)
    if max_tokens is not None and len(pieces) > max_tokens:
        return "".join(pieces[:max_tokens]), "length"
    return text, "stop"
