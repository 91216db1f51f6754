"""A call's affinity key: which calls a `prefix_affinity` pool should send to the same instance.

The key is the call's session id when it has one: `session_id`, else `thread_id` (LangGraph's
thread, which LangGraph copies into the run's metadata), read from the config's `metadata`
or else its `configurable`. Without one it is a hash
of the prompt's leading characters, counted over the messages up to and including the first
user message, so every turn of one conversation (whose later turns only append messages)
has the same key, and so do calls sharing a long system prompt and first question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

SESSION_KEYS = ("session_id", "thread_id")
"""Where a call's session id is looked for, first match wins."""


def session_id(*sources: Mapping[str, Any] | None) -> str | None:
    """The first non-empty `session_id` or `thread_id` in `sources`, as text."""
    for name in SESSION_KEYS:
        for source in sources:
            value = source.get(name) if source else None
            if value is not None and value != "":
                return str(value)
    return None


def with_session_metadata(config: RunnableConfig | None) -> RunnableConfig | None:
    """`config` with the session id of its `configurable` copied into its `metadata` (a
    chat model's run sees only the metadata), unless the metadata names one already of the
    same or higher precedence; unchanged when there is nothing to copy."""
    if not config:
        return config
    metadata = config.get("metadata") or {}
    configurable = config.get("configurable") or {}
    for name in SESSION_KEYS:
        if session_id({name: metadata.get(name)}) is not None:
            return config
        value = session_id({name: configurable.get(name)})
        if value is not None:
            return {**config, "metadata": {**metadata, name: value}}
    return config


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


def affinity_key(
    messages: Sequence[BaseMessage], metadata: Mapping[str, Any] | None, prefix_chars: int
) -> str:
    """`session:<id>` when the call names a session, else `prefix:<hash of its prefix>`."""
    session = session_id(metadata)
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
