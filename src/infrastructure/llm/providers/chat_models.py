"""Build the inner LangChain chat model that talks to one instance (one endpoint of one model)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers.mock import MockChatModel

# vLLM and most self-hosted OpenAI-compatible servers accept any key; the SDK insists on one.
_PLACEHOLDER_KEY = SecretStr("EMPTY")


def build_chat_model(
    *,
    provider: str,
    model: str,
    base_url: str | None,
    api_key: SecretStr | None,
    params: dict[str, Any],
) -> BaseChatModel:
    """Return a chat model with its own retries off: the router is the only retry loop."""
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key or _PLACEHOLDER_KEY,
            max_retries=0,
            stream_usage=True,
            **params,
        )
    if provider == "anthropic":
        try:
            from langchain_anthropic import ChatAnthropic  # type: ignore[import-not-found]
        except ImportError as exc:
            raise LLMWrapperError(
                f"model {model!r} uses provider 'anthropic', which needs the "
                "'langchain-anthropic' package: pip install langchain-anthropic"
            ) from exc
        extra: dict[str, Any] = {"base_url": base_url} if base_url else {}
        return ChatAnthropic(model=model, api_key=api_key, max_retries=0, **extra, **params)
    if provider == "mock":
        return MockChatModel(model=model, **params)
    raise LLMWrapperError(f"unknown provider {provider!r} for model {model!r}")
