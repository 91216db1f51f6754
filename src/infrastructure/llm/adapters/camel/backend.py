"""WrapperModelBackend: a CAMEL model backend whose calls go through a wrapper chosen by name,
so a `ChatAgent` (and OASIS agents built on it) get echelons, pools, breakers and fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from infrastructure.llm.adapters.camel.requirement import require_camel

require_camel()

# The imports below need camel-ai; the check above names the extra when it is missing.
from camel.models import BaseModelBackend  # noqa: E402
from camel.utils import BaseTokenCounter  # noqa: E402
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from infrastructure.llm.adapters.camel.completions import (  # noqa: E402
    acompletion_chunks,
    chat_completion,
    completion_chunks,
)
from infrastructure.llm.adapters.camel.request import WrapperCall, wrapper_call  # noqa: E402
from infrastructure.llm.adapters.camel.token_counter import OfflineTokenCounter  # noqa: E402
from infrastructure.llm.errors import LLMWrapperError  # noqa: E402
from infrastructure.llm.wrappers.base import BaseLLMWrapper  # noqa: E402
from infrastructure.llm.wrappers.factory import LLMWrapperFactory  # noqa: E402


class WrapperModelBackend(BaseModelBackend):
    """Sends CAMEL's requests to the wrapper `wrapper` of `factory` (or of the factory built
    from `config_dir`).

    `model_config_dict` is CAMEL's usual model config: `stream: True` streams, `tools` and
    `tool_choice` bind tools, anything else (temperature, max_tokens, ...) goes to whichever
    instance answers. Tokens are counted by `OfflineTokenCounter` unless `token_counter` is
    given; `token_limit` is the context window CAMEL's memory keeps to (default: CAMEL's
    for a model it does not know).
    """

    def __init__(
        self,
        wrapper: str,
        *,
        factory: LLMWrapperFactory | None = None,
        config_dir: str | Path | None = None,
        model_config_dict: dict[str, Any] | None = None,
        token_counter: BaseTokenCounter | None = None,
        token_limit: int | None = None,
    ) -> None:
        if (factory is None) == (config_dir is None):
            raise LLMWrapperError(
                f"WrapperModelBackend({wrapper!r}): pass exactly one of factory= or config_dir="
            )
        factory = factory or LLMWrapperFactory.from_config_dir(config_dir)  # type: ignore[arg-type]
        self.wrapper: BaseLLMWrapper = factory.get_wrapper(wrapper)
        self._token_limit = token_limit
        # Retries and timeouts are the wrapper's business: CAMEL's own are not used.
        super().__init__(wrapper, model_config_dict, token_counter=token_counter, max_retries=0)

    @property
    def token_counter(self) -> BaseTokenCounter:
        if self._token_counter is None:
            self._token_counter = OfflineTokenCounter()
        return self._token_counter

    @property
    def token_limit(self) -> int:
        return self._token_limit or super().token_limit

    @property
    def stream(self) -> bool:
        return bool(self.model_config_dict.get("stream", False))

    def _call(
        self,
        messages: list[Any],
        response_format: type[BaseModel] | None,
        tools: list[dict[str, Any]] | None,
    ) -> WrapperCall:
        return wrapper_call(self.wrapper, messages, self.model_config_dict, tools, response_format)

    def _run(
        self,
        messages: list[Any],
        response_format: type[BaseModel] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        call = self._call(messages, response_format, tools)
        name = str(self.model_type)
        if self.stream:
            return completion_chunks(call.model.stream(call.messages, **call.kwargs), name)
        return chat_completion(call.model.invoke(call.messages, **call.kwargs), name)

    async def _arun(
        self,
        messages: list[Any],
        response_format: type[BaseModel] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
        call = self._call(messages, response_format, tools)
        name = str(self.model_type)
        if self.stream:
            return acompletion_chunks(call.model.astream(call.messages, **call.kwargs), name)
        return chat_completion(await call.model.ainvoke(call.messages, **call.kwargs), name)
