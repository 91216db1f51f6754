"""A deterministic in-process chat model for offline use: no network, same answer every time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from infrastructure.llm.chat_signatures import signatures_computed_once


def _text_of(message: BaseMessage) -> str:
    """Plain text of a message, ignoring non-text content parts."""
    if isinstance(message.content, str):
        return message.content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in message.content]
    return " ".join(p for p in parts if p)


@signatures_computed_once
class MockChatModel(BaseChatModel):
    """Answers `"<reply_prefix> <last message text>"`, word by word when streamed."""

    model: str = "mock"
    reply_prefix: str = "Mock reply to:"

    @property
    def _llm_type(self) -> str:
        return "mock-chat-model"

    def _reply_words(self, messages: list[BaseMessage], stop: list[str] | None) -> list[str]:
        last = _text_of(messages[-1]) if messages else ""
        reply = f"{self.reply_prefix} {last}".strip()
        for token in stop or []:
            if token and token in reply:
                reply = reply[: reply.index(token)]
        words = reply.split(" ")
        return [w if i == 0 else f" {w}" for i, w in enumerate(words)]

    def _usage(self, messages: list[BaseMessage], words: list[str]) -> UsageMetadata:
        prompt = sum(len(_text_of(m).split()) for m in messages)
        return UsageMetadata(
            input_tokens=prompt, output_tokens=len(words), total_tokens=prompt + len(words)
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        words = self._reply_words(messages, stop)
        message = AIMessage(
            content="".join(words),
            usage_metadata=self._usage(messages, words),
            response_metadata={"model_name": self.model, "finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        words = self._reply_words(messages, stop)
        for word in words:
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=self._usage(messages, words),
                response_metadata={"model_name": self.model, "finish_reason": "stop"},
            )
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop, **kwargs):
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, **kwargs)
