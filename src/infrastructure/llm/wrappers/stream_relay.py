"""What a routed stream does between its first chunk and its end: pass chunks on, keep the
partial text and usage, and say how the stream ended so its slot can be given back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGenerationChunk

from infrastructure.llm.errors import StreamInterruptedError, describe_error
from infrastructure.llm.redaction import scrub
from infrastructure.llm.resilience.admission import Verdict
from infrastructure.llm.resilience.error_classification import attempt_error
from infrastructure.llm.routing.call_record import CallRecord
from infrastructure.llm.routing.engine import Served

Opened = tuple[list[ChatGenerationChunk], Iterator[ChatGenerationChunk]]
"""A stream that produced output: the chunks read so far, and the rest of the stream."""

AsyncOpened = tuple[list[ChatGenerationChunk], AsyncIterator[ChatGenerationChunk]]


def carries_output(chunk: ChatGenerationChunk) -> bool:
    """Whether a chunk holds output; role-only openers do not, so failover stays possible."""
    message = chunk.message
    return bool(chunk.text or getattr(message, "tool_call_chunks", None) or message.content)


class StreamRelay:
    """Bookkeeping for one stream after its first chunk: partial text, usage, how it ended,
    and with `keep` the chunks themselves (for the cache).

    `metadata` goes on the first chunk; `on_end(record, ok=, latency=, usage=)` folds the
    finished stream into the wrapper's stats.
    """

    __slots__ = (
        "failed",
        "kept",
        "metadata",
        "on_end",
        "parts",
        "record",
        "served",
        "started",
        "usage",
    )

    def __init__(
        self,
        served: Served[Any],
        record: CallRecord,
        started: float,
        metadata: dict[str, Any],
        on_end: Callable[..., None],
        keep: bool = False,
    ) -> None:
        self.served = served
        self.record = record
        self.started = started
        self.metadata = metadata
        self.on_end = on_end
        self.parts: list[str] = []
        self.usage: UsageMetadata | None = None
        self.failed = False
        self.kept: list[ChatGenerationChunk] | None = [] if keep else None

    def pass_on(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        """Note the chunk's text and usage; the first chunk carries the routing metadata."""
        if not self.parts:
            chunk.message.response_metadata["routing"] = self.metadata
            chunk.generation_info = {**(chunk.generation_info or {}), "routing": self.metadata}
        self.parts.append(chunk.text)
        usage = getattr(chunk.message, "usage_metadata", None)
        if usage:
            self.usage = add_usage(self.usage, usage) if self.usage else usage
        if self.kept is not None:
            self.kept.append(chunk)
        return chunk

    def interrupted(self, exc: Exception, routed_name: str) -> StreamInterruptedError:
        """The error to raise when the stream breaks after chunks were delivered; its cause
        says what broke it (a cut at the call's deadline reads as a timeout)."""
        self.failed = True
        instance = self.served.member.instance.id
        cause = scrub(attempt_error(exc, self.served.limit, instance))
        self.record.note_failure(instance, cause)
        return StreamInterruptedError(
            f"{routed_name}: stream from {instance} broke: {describe_error(cause, instance)}",
            "".join(self.parts),
            cause,
        )

    def close(self) -> Verdict:
        """Fold the stream into the stats; return the verdict that frees its slot."""
        latency = time.perf_counter() - self.started
        first_chunk = self.metadata["latency_ms"] / 1000
        self.on_end(
            self.record,
            ok=not self.failed,
            latency=latency,
            usage=self.usage,
            first_chunk=first_chunk,
        )
        return Verdict.FAILED if self.failed else Verdict.STREAM_ENDED
