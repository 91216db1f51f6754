"""Cached answers as bytes: JSON of LangChain's message dicts, zlib-compressed above a size.

The first byte says how the rest is written (`j` JSON, `z` zlib of JSON), so entries written
with and without compression read alike. Anything that does not decode raises `CorruptEntry`:
the cache then drops the entry and treats the call as a miss.
"""

from __future__ import annotations

import json
import zlib

from langchain_core.messages import AIMessage, AIMessageChunk, message_to_dict, messages_from_dict

from infrastructure.llm.cache.answer import CachedAnswer

_FORMAT = 1
_PLAIN, _ZLIB = b"j", b"z"


class CorruptEntry(ValueError):
    """A stored entry that is not a cached answer this version can read."""


def encode(answer: CachedAnswer, compress_above: int | None) -> bytes:
    """The bytes of `answer`; zlib when `compress_above` is set and the JSON is longer."""
    kind, messages = ("message", [answer.message]) if answer.message else ("chunks", answer.chunks)
    body = {"format": _FORMAT, "kind": kind, "messages": [message_to_dict(m) for m in messages]}
    if answer.question is not None:
        body["question"] = answer.question
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if compress_above is not None and len(text) > compress_above:
        return _ZLIB + zlib.compress(text)
    return _PLAIN + text


def decode(data: bytes) -> CachedAnswer:
    """The answer in `data`; raises CorruptEntry when it is anything else."""
    try:
        tag, rest = data[:1], data[1:]
        if tag == _ZLIB:
            rest = zlib.decompress(rest)
        elif tag != _PLAIN:
            raise CorruptEntry(f"unknown entry format {tag!r}")
        body = json.loads(rest)
        if body.get("format") != _FORMAT:
            raise CorruptEntry(f"entry format {body.get('format')!r}, expected {_FORMAT}")
        messages = messages_from_dict(body["messages"])
        kind = body["kind"]
        question = body.get("question")  # entries stored before it was kept have none
        if not isinstance(question, (str, type(None))):
            raise CorruptEntry(f"question of type {type(question).__name__}, expected a string")
    except CorruptEntry:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as exc:
        raise CorruptEntry(f"undecodable entry: {type(exc).__name__}: {exc}") from None
    if kind == "message" and len(messages) == 1 and isinstance(messages[0], AIMessage):
        return CachedAnswer(message=messages[0], question=question)
    if kind == "chunks" and messages and all(isinstance(m, AIMessageChunk) for m in messages):
        return CachedAnswer(chunks=tuple(messages), question=question)  # type: ignore[arg-type]
    raise CorruptEntry(f"entry of kind {kind!r} holds no answer")
