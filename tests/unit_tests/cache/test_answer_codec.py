"""Cached answers: stored without ids or routing metadata, encoded with and without zlib,
replayed as a result or as chunks, and every kind of damage read as CorruptEntry."""

from __future__ import annotations

import json
import zlib

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from infrastructure.llm.cache.answer import CachedAnswer
from infrastructure.llm.cache.codec import CorruptEntry, decode, encode

USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


def invoked(content: str = "Paris is the capital.  Of France, 当然。") -> CachedAnswer:
    message = AIMessage(
        content,
        id="run-1",
        tool_calls=[{"name": "lookup", "args": {"city": "Paris"}, "id": "call-1"}],
        usage_metadata=USAGE,
        response_metadata={"finish_reason": "stop", "routing": {"instance": "m#0"}},
    )
    return CachedAnswer.of_result(ChatResult(generations=[ChatGeneration(message=message)]))


def streamed() -> CachedAnswer:
    chunks = [
        AIMessageChunk("Par", id="run-2", response_metadata={"routing": {"instance": "m#1"}}),
        AIMessageChunk(
            "",
            tool_call_chunks=[{"name": "lookup", "args": '{"ci', "id": "call-1", "index": 0}],
        ),
        AIMessageChunk("", tool_call_chunks=[{"args": 'ty": "Paris"}', "index": 0}]),
        AIMessageChunk("is", usage_metadata=USAGE, response_metadata={"finish_reason": "stop"}),
    ]
    return CachedAnswer.of_chunks([ChatGenerationChunk(message=c) for c in chunks])


def merged(chunks: list[ChatGenerationChunk]) -> AIMessageChunk:
    total = chunks[0].message
    for chunk in chunks[1:]:
        total = total + chunk.message
    return total  # type: ignore[return-value]


def test_stored_answers_drop_the_id_and_routing_of_the_call_that_made_them() -> None:
    message = invoked().message
    assert message is not None
    assert message.id is None and "routing" not in message.response_metadata
    chunk = streamed().chunks[0]
    assert chunk.id is None and "routing" not in chunk.response_metadata


@pytest.mark.parametrize("compress_above", [None, 0, 10_000])
def test_answers_survive_encoding(compress_above: int | None) -> None:
    for answer in (invoked(), streamed()):
        data = encode(answer, compress_above)
        assert data[:1] == (b"z" if compress_above == 0 else b"j")
        assert decode(data) == answer


def test_an_invoked_answer_replays_as_word_chunks_that_add_up_to_it() -> None:
    answer = invoked()
    chunks = answer.stream()
    assert len(chunks) > 3
    assert "".join(c.text for c in chunks) == answer.message.content  # type: ignore[union-attr]
    total = merged(chunks)
    assert total.tool_calls == answer.message.tool_calls  # type: ignore[union-attr]
    assert total.usage_metadata == USAGE


def test_a_streamed_answer_replays_its_own_chunks_and_merges_for_invoke() -> None:
    answer = streamed()
    replay = answer.stream()
    assert [c.message for c in replay] == list(answer.chunks)
    message = answer.result().generations[0].message
    assert isinstance(message, AIMessage) and not isinstance(message, AIMessageChunk)
    assert message.content == "Paris"
    assert message.tool_calls == [
        {"name": "lookup", "args": {"city": "Paris"}, "id": "call-1", "type": "tool_call"}
    ]
    assert message.usage_metadata == USAGE


def test_replays_are_fresh_copies() -> None:
    answer = invoked()
    answer.result().generations[0].message.response_metadata["routing"] = {"x": 1}
    answer.stream()[-1].message.response_metadata["routing"] = {"x": 1}
    assert "routing" not in answer.result().generations[0].message.response_metadata


def _json(body: object) -> bytes:
    return b"j" + json.dumps(body).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x{}",
        b"j{not json",
        b"z" + b"not zlib",
        b"z" + zlib.compress(b"[1, 2]"),
        _json({"format": 99, "kind": "message", "messages": []}),
        _json({"format": 1, "kind": "message", "messages": []}),
        _json({"format": 1, "kind": "chunks", "messages": []}),
        _json({"format": 1, "kind": "message", "messages": [{"type": "human", "data": {}}]}),
        _json({"format": 1, "kind": "other", "messages": []}),
    ],
)
def test_damaged_entries_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode(data)
