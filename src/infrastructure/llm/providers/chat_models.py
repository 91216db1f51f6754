"""The inner LangChain chat models that talk to one instance (one endpoint of one model).

An instance has one model for sync calls and, for async calls, one per event loop: an async
HTTP client belongs to the loop that opened its connections. OpenAI-compatible models use the
package's shared HTTP clients (`transport.py`), so a fleet of a thousand instances builds in
well under a second (with a client each, a TLS context each, it took over a minute).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.providers.transport import loop_clients, sync_client, unbound_client

# vLLM and most self-hosted OpenAI-compatible servers accept any key; the SDK insists on one.
_PLACEHOLDER_KEY = SecretStr("EMPTY")


class ChatModels(Protocol):
    """The chat model of one instance, for sync calls and for the running event loop."""

    def sync(self) -> BaseChatModel: ...

    def for_running_loop(self) -> BaseChatModel:
        """The model to await on the running loop; call it from the loop's thread."""
        ...


class SameModel:
    """One chat model for every call (in-process models, and models built by the user)."""

    __slots__ = ("model",)

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    def sync(self) -> BaseChatModel:
        return self.model

    def for_running_loop(self) -> BaseChatModel:
        return self.model


class OpenAIModels:
    """`ChatOpenAI` on the shared sync client, and one per loop on that loop's async client.

    The sync model is built at once, so bad settings fail when the fleet is built.
    """

    __slots__ = ("_build", "_sync")

    def __init__(self, **settings: Any) -> None:
        self._build = partial(_chat_openai, **settings)
        self._sync = self._build(http_client=sync_client(), http_async_client=unbound_client())

    def sync(self) -> BaseChatModel:
        return self._sync

    def for_running_loop(self) -> BaseChatModel:
        clients = loop_clients()
        model = clients.models.get(self)
        if model is None:
            model = clients.models[self] = self._build(
                http_client=sync_client(), http_async_client=clients.client
            )
        return model  # type: ignore[no-any-return]


def _chat_openai(**settings: Any) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(**settings)


def build_chat_models(
    *,
    provider: str,
    model: str,
    base_url: str | None,
    api_key: SecretStr | None,
    params: dict[str, Any],
) -> ChatModels:
    """The models of one instance, with their own retries off: the router is the only retry
    loop. OpenAI-compatible models are built when first used; a missing provider package
    is reported now."""
    if provider == "openai":
        return OpenAIModels(
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
        return SameModel(
            ChatAnthropic(model=model, api_key=api_key, max_retries=0, **extra, **params)
        )
    if provider == "mock":
        return SameModel(MockChatModel(model=model, **params))
    raise LLMWrapperError(f"unknown provider {provider!r} for model {model!r}")
