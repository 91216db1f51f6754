"""The inner LangChain chat models that talk to one instance (one endpoint of one model).

An instance has one model for sync calls and, for async calls, one per event loop: an async
HTTP client belongs to the loop that opened its connections. OpenAI-compatible models use the
package's shared HTTP clients (`transport.py`), so a fleet of a thousand instances builds in
well under a second (with a client each, a TLS context each, it took over a minute).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import SecretStr

from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers import openai_errors as _openai_errors
from infrastructure.llm.providers.mock import MockChatModel
from infrastructure.llm.providers.transport import loop_clients, sync_client, unbound_client
from infrastructure.llm.redaction import remember

# vLLM and most self-hosted OpenAI-compatible servers accept any key; the SDK insists on one.
_PLACEHOLDER_KEY = SecretStr("EMPTY")


class ChatModels(Protocol):
    """The chat model of one instance, for sync calls and for the running event loop."""

    def sync(self) -> BaseChatModel: ...

    def for_running_loop(self) -> BaseChatModel:
        """The model to await on the running loop; call it from the loop's thread."""
        ...

    async def agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> ChatResult:
        """The running loop's model's answer, as `_agenerate` gives it."""
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

    async def agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> ChatResult:
        return await self.model._agenerate(messages, stop=stop, **kwargs)


class OpenAIModels:
    """`ChatOpenAI` on the shared sync client, and one per loop on that loop's async client.

    The sync model is built at once, so bad settings fail when the fleet is built.
    """

    __slots__ = ("_build", "_sync", "_transport")

    def __init__(self, async_transport: str = "aiohttp", **settings: Any) -> None:
        self._build = partial(_chat_openai, **settings)
        self._sync = self._build(http_client=sync_client(), http_async_client=unbound_client())
        self._transport = async_transport

    def sync(self) -> BaseChatModel:
        return self._sync

    def for_running_loop(self) -> BaseChatModel:
        clients = loop_clients()
        model = clients.models.get(self)
        if model is None:
            model = clients.models[self] = self._build(
                http_client=sync_client(), http_async_client=clients.client(self._transport)
            )
        return model  # type: ignore[no-any-return]

    async def agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> ChatResult:
        """`ChatOpenAI._agenerate`, without its thread hop for plain chat completions.

        `_agenerate` converts every response in a worker thread; at 100 calls in flight that
        hop costs a third of the calls a second. For chat completions without a
        `response_format` and outside the Responses API, the same steps run here on the loop
        (the conversion of one short answer is microseconds); anything else goes through
        `_agenerate` unchanged.
        """
        model: Any = self.for_running_loop()
        payload = model._get_request_payload(messages, stop=stop, **kwargs)
        if "response_format" in payload or model._use_responses_api(payload):
            return await model._agenerate(messages, stop=stop, **kwargs)  # type: ignore[no-any-return]
        raw = None
        try:
            raw = await model.async_client.with_raw_response.create(**payload)
            response = raw.parse()
        except openai.BadRequestError as exc:
            _openai_errors.bad_request(exc)
        except openai.APIError as exc:
            _openai_errors.api_error(exc)
        except Exception as exc:
            if raw is not None and hasattr(raw, "http_response"):
                exc.response = raw.http_response  # type: ignore[attr-defined]
            raise
        info: dict[str, Any] = (
            {"headers": dict(raw.headers)} if model.include_response_headers else {}
        )
        _openai_errors.gateway_metadata(info, raw)
        return model._create_chat_result(response, info)  # type: ignore[no-any-return]


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
    async_transport: str = "aiohttp",
) -> ChatModels:
    """The models of one instance, with their own retries off: the router is the only retry
    loop. Its key, and any password in its URL, are masked in every text this package
    writes from now on. OpenAI-compatible models make async calls over `async_transport`."""
    remember(api_key.get_secret_value() if api_key is not None else None)
    remember(urlsplit(base_url).password if base_url else None)
    if provider == "openai":
        return OpenAIModels(
            async_transport,
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
