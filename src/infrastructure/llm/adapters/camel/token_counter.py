"""A token counter for CAMEL that needs no download: CAMEL's default counts with tiktoken,
whose encodings are fetched from the internet on first use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infrastructure.llm.adapters.camel.requirement import require_camel

require_camel()

from camel.utils import BaseTokenCounter  # noqa: E402  # after the check that names the extra

_BYTES_PER_TOKEN = 4  # OpenAI's rule of thumb for English text
_PER_MESSAGE = 3  # the role and separators a chat format adds to each message
_PER_REPLY = 3  # the assistant's reply is primed with these


class OfflineTokenCounter(BaseTokenCounter):
    """Counts about one token per four bytes of UTF-8, as OpenAI's tokenizers do for English;
    reversible, so CAMEL's `decode` works too. An estimate, never a download."""

    def count_tokens_from_messages(self, messages: Sequence[Mapping[str, Any]]) -> int:
        total = _PER_REPLY
        for message in messages:
            total += _PER_MESSAGE + len(self.encode(_text(message.get("content"))))
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                total += len(
                    self.encode(f"{function.get('name', '')}{function.get('arguments', '')}")
                )
        return total

    def encode(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        step = _BYTES_PER_TOKEN
        return [int.from_bytes(data[i : i + step], "big") for i in range(0, len(data), step)]

    def decode(self, token_ids: list[int]) -> str:
        data = b"".join(t.to_bytes(max(1, (t.bit_length() + 7) // 8), "big") for t in token_ids)
        return data.decode("utf-8", errors="ignore")


def _text(content: Any) -> str:
    """A message's text; of multimodal content, its text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
