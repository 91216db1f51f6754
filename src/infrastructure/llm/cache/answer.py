"""A cached answer, and its round trip to what a call returns: a `ChatResult` for invoke, a
sequence of chunks for stream.

A streamed answer is kept as its chunks, so a stream hit replays them as they came, tool-call
chunks and usage included. An invoked answer is kept as its message; a stream hit splits it
into word-sized chunks whose text adds up to the content exactly once. Routing metadata and
message ids are dropped when stored: a hit gets the ids and metadata of the call it answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class CachedAnswer:
    """The message of an invoked answer, or the chunks of a streamed one (never both), and
    in semantic mode the `question` (the embedded text) it answered, for `neighbours`."""

    message: AIMessage | None = None
    chunks: tuple[AIMessageChunk, ...] = ()
    question: str | None = None

    @classmethod
    def of_result(cls, result: ChatResult) -> CachedAnswer:
        """The answer an invoke returned."""
        message = result.generations[0].message
        return cls(message=_stored(message, AIMessage))  # type: ignore[arg-type]

    @classmethod
    def of_chunks(cls, chunks: Sequence[ChatGenerationChunk]) -> CachedAnswer:
        """The answer a completed stream delivered."""
        return cls(chunks=tuple(_stored(c.message, AIMessageChunk) for c in chunks))  # type: ignore[misc]

    def result(self) -> ChatResult:
        """A fresh `ChatResult` of this answer (callers may change its metadata)."""
        if self.message is not None:
            message = self.message.model_copy(deep=True)
        else:
            merged = self.chunks[0].model_copy(deep=True)
            for chunk in self.chunks[1:]:
                merged = merged + chunk
            message = _as_message(merged)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def text(self) -> str:
        """The answer's text."""
        return self.result().generations[0].message.text

    def stream(self) -> list[ChatGenerationChunk]:
        """Fresh chunks of this answer, in order."""
        if self.message is None:
            return [ChatGenerationChunk(message=c.model_copy(deep=True)) for c in self.chunks]
        return [ChatGenerationChunk(message=c) for c in _split(self.message)]


def _stored(message: BaseMessage, kind: type[BaseMessage]) -> BaseMessage:
    """A copy without the id and routing metadata of the call that produced it."""
    if not isinstance(message, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(message).__name__}")
    metadata = {k: v for k, v in message.response_metadata.items() if k != "routing"}
    return message.model_copy(update={"id": None, "response_metadata": metadata}, deep=True)


def _as_message(chunk: AIMessageChunk) -> AIMessage:
    return AIMessage(
        content=chunk.content,
        additional_kwargs=chunk.additional_kwargs,
        response_metadata=chunk.response_metadata,
        tool_calls=chunk.tool_calls,
        invalid_tool_calls=chunk.invalid_tool_calls,
        usage_metadata=chunk.usage_metadata,
        name=chunk.name,
    )


def _split(message: AIMessage) -> list[AIMessageChunk]:
    """Word-sized chunks of `message`; the last carries tool calls, usage and metadata."""
    content = message.content
    pieces: list[str | list] = (
        _PIECE.findall(content) if isinstance(content, str) else [content]  # type: ignore[list-item]
    )
    chunks = [AIMessageChunk(content=piece) for piece in pieces[:-1]]
    calls = [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c.get("id"), index=i)
        for i, c in enumerate(message.tool_calls)
    ]
    last = AIMessageChunk(
        content=pieces[-1] if pieces else "",
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        tool_call_chunks=calls,
        usage_metadata=message.usage_metadata,
        name=message.name,
    )
    return [*chunks, last]
