"""OpenAI-shaped JSON bodies: completions, stream chunks, errors, the model list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infrastructure.llm.sim.planning import CompletionPlan, split_pieces

HEALTHY_BODY = b'{"status":"ok"}'
DONE_EVENT = b"data: [DONE]\n\n"
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    b"<center><h1>502 Bad Gateway</h1></center>\n"
    b"<p>The upstream server did not answer. Please try again later.</p>\n"
    b"<hr><center>nginx</center>\n</body>\n</html>\n"
)
_ARGUMENT_PIECE = 16


@dataclass(frozen=True)
class StreamEvents:
    """SSE events of one streamed answer: the content-carrying chunks, then the closing ones."""

    chunks: list[bytes]
    tail: list[bytes]


def dump(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(message: str, kind: str) -> bytes:
    """An OpenAI error object, e.g. kind "server_error" or "rate_limit_error"."""
    return dump({"error": {"message": message, "type": kind, "param": None, "code": None}})


def models_body(names: list[str], created: int) -> bytes:
    """`GET /v1/models`: the served models in OpenAI's list format."""
    data = [{"id": n, "object": "model", "created": created, "owned_by": "sim"} for n in names]
    return dump({"object": "list", "data": data})


def no_choices_body(completion_id: str, model: str, created: int) -> bytes:
    """Valid JSON that looks like a completion but has no `choices` (the no_choices fault)."""
    return dump(
        {"id": completion_id, "object": "chat.completion", "created": created, "model": model}
    )


def truncated_completion_body(completion_id: str, model: str, created: int) -> bytes:
    """A completion cut off mid-string: not valid JSON (the bad_json fault)."""
    opening = no_choices_body(completion_id, model, created)[:-1]
    return opening + b',"choices":[{"index":0,"message":{"role":"assistant","content":"Simul'


def completion_body(plan: CompletionPlan, completion_id: str, created: int) -> bytes:
    """A `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": plan.content, "refusal": None}
    if plan.tool_call is not None:
        call = plan.tool_call
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": plan.finish_reason,
    }
    return dump(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": plan.model,
            "choices": [choice],
            "usage": _usage(plan),
            "system_fingerprint": None,
        }
    )


def stream_events(plan: CompletionPlan, completion_id: str, created: int) -> StreamEvents:
    """`chat.completion.chunk` events: one per word (or argument piece), then finish and usage.

    The first chunk carries the assistant role; with `include_usage` a usage chunk with empty
    choices precedes `[DONE]`.
    """
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "system_fingerprint": None,
    }

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return b"data: " + dump({**base, "choices": choices, **extra}) + b"\n\n"

    def delta_event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return event([choice])

    deltas = _deltas(plan)
    deltas[0] = {"role": "assistant", **deltas[0]}
    tail = [delta_event({}, plan.finish_reason)]
    if plan.include_usage:
        tail.append(event([], usage=_usage(plan)))
    tail.append(DONE_EVENT)
    return StreamEvents([delta_event(d) for d in deltas], tail)


def _deltas(plan: CompletionPlan) -> list[dict[str, Any]]:
    """Content deltas word by word, or a tool call opened and then filled in pieces."""
    call = plan.tool_call
    if call is None:
        return [{"content": p} for p in split_pieces(plan.content or "")] or [{"content": ""}]
    opening = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    args = call.arguments
    pieces = [args[i : i + _ARGUMENT_PIECE] for i in range(0, len(args), _ARGUMENT_PIECE)]
    return [
        {"content": None, "tool_calls": [opening]},
        *({"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces),
    ]


def _usage(plan: CompletionPlan) -> dict[str, Any]:
    """Token counts (words stand in for tokens), with the prompt's cached tokens when known."""
    usage: dict[str, Any] = {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }
    if plan.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": plan.cached_tokens}
    return usage
