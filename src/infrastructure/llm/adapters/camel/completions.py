"""A wrapper's answer in the shapes CAMEL reads: an `AIMessage` as an OpenAI `ChatCompletion`,
a stream of `AIMessageChunk`s as `ChatCompletionChunk`s (text, tool calls, finish reason and
token usage included)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from openai.types.chat import ChatCompletion, ChatCompletionChunk


def chat_completion(message: BaseMessage, model: str) -> ChatCompletion:
    """`message` (the wrapper's answer) as the completion an OpenAI server would have sent."""
    answer = convert_to_openai_messages(message)
    assert isinstance(answer, dict)
    tool_calls = answer.get("tool_calls") or None
    finish = message.response_metadata.get("finish_reason") or (
        "tool_calls" if tool_calls else "stop"
    )
    return ChatCompletion.model_validate(
        {
            "id": _completion_id(message),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": message.response_metadata.get("model_name") or model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {
                        "role": "assistant",
                        "content": message.text or None,
                        "tool_calls": tool_calls,
                    },
                }
            ],
            "usage": _usage(getattr(message, "usage_metadata", None)),
        }
    )


def completion_chunks(
    chunks: Iterable[AIMessageChunk], model: str
) -> Iterator[ChatCompletionChunk]:
    """The wrapper's stream as OpenAI chunks; the first one names the assistant role."""
    stream = _ChunkStream(model)
    for chunk in chunks:
        yield stream.convert(chunk)


async def acompletion_chunks(
    chunks: AsyncIterator[AIMessageChunk], model: str
) -> AsyncIterator[ChatCompletionChunk]:
    """Async twin of `completion_chunks`."""
    stream = _ChunkStream(model)
    async for chunk in chunks:
        yield stream.convert(chunk)


class _ChunkStream:
    """What the chunks of one stream share: its id, creation time and model."""

    def __init__(self, model: str) -> None:
        self.id = ""
        self.created = int(time.time())
        self.model = model
        self.started = False

    def convert(self, chunk: AIMessageChunk) -> ChatCompletionChunk:
        if not self.id:
            self.id = _completion_id(chunk)
        delta: dict[str, Any] = {"content": chunk.text or None}
        if not self.started:
            delta["role"] = "assistant"
            self.started = True
        if chunk.tool_call_chunks:
            delta["tool_calls"] = [
                _tool_call_delta(c, i) for i, c in enumerate(chunk.tool_call_chunks)
            ]
        metadata = chunk.response_metadata
        self.model = metadata.get("model_name") or self.model
        return ChatCompletionChunk.model_validate(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": metadata.get("finish_reason")}
                ],
                "usage": _usage(chunk.usage_metadata),
            }
        )


def _tool_call_delta(chunk: Any, position: int) -> dict[str, Any]:
    """A LangChain tool-call chunk as an OpenAI tool-call delta."""
    delta: dict[str, Any] = {
        "index": chunk.get("index") if chunk.get("index") is not None else position,
        "function": {"arguments": chunk.get("args") or ""},
    }
    if chunk.get("id"):
        delta["id"] = chunk["id"]
        delta["type"] = "function"
    if chunk.get("name"):
        delta["function"]["name"] = chunk["name"]
    return delta


def _usage(usage: UsageMetadata | None) -> dict[str, int] | None:
    if not usage:
        return None
    return {
        "prompt_tokens": usage.get("input_tokens", 0),
        "completion_tokens": usage.get("output_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
    }


def _completion_id(message: BaseMessage) -> str:
    """The server's completion id when the answer kept one, else a fresh one."""
    found = message.id or ""
    return found if found.startswith("chatcmpl") else f"chatcmpl-{uuid.uuid4().hex}"
