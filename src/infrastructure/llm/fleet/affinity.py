"""A call's affinity key: which calls a `prefix_affinity` pool should send to the same instance.

The key is the call's session id when it has one: `session_id`, else `thread_id` (LangGraph's
thread), each read from the call config's `metadata`, else its `configurable` (a graph node's
call sees its graph's config). Without one it is a hash of the prompt's leading characters,
counted over the messages up to and including the first user message, so every turn of one
conversation (whose later turns only append messages) has the same key, and so do calls
sharing a long system prompt and first question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

SESSION_KEYS = ("session_id", "thread_id")
"""Where a call's session id is looked for, first match wins."""

SESSION_ARGUMENT = "affinity_session"
"""The call argument a pool wrapper passes a session id on, from `invoke`/`stream` down to the
routing (a chat model's `_stream` sees no run metadata); it never reaches a server."""


def session_id(config: RunnableConfig | None) -> str | None:
    """The call's session id: `session_id`, then `thread_id`, each looked for in the config's
    `metadata` first and its `configurable` second; None when neither names one."""
    if not config:
        return None
    sources = (config.get("metadata") or {}, config.get("configurable") or {})
    for name in SESSION_KEYS:
        for source in sources:
            value = source.get(name)
            if value is not None and value != "":
                return str(value)
    return None


def prompt_prefix(messages: Sequence[BaseMessage], chars: int) -> str:
    """The first `chars` characters of the prompt rendered up to its first user message."""
    parts: list[str] = []
    size = 0
    for message in messages:
        text = f"{message.type}\n{_text(message.content)}\n"
        parts.append(text)
        size += len(text)
        if size >= chars or message.type == "human":
            break
    return "".join(parts)[:chars]


def affinity_key(messages: Sequence[BaseMessage], session: str | None, prefix_chars: int) -> str:
    """`session:<id>` when the call names a session, else `prefix:<hash of its prefix>`."""
    if session is not None:
        return f"session:{session}"
    prefix = prompt_prefix(messages, prefix_chars).encode()
    return "prefix:" + hashlib.blake2b(prefix, digest_size=16).hexdigest()


def _text(content: str | list[Any]) -> str:
    """A message's text; of a list of content blocks, the text blocks joined."""
    if isinstance(content, str):
        return content
    texts = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and isinstance(block.get("text"), str):
            texts.append(block["text"])
    return "\n".join(texts)
