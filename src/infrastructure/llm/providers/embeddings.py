"""The LangChain `Embeddings` of a registry model of kind embeddings (what the semantic cache
embeds prompts with): an OpenAI-compatible `/v1/embeddings` such as vLLM's, or the
deterministic mock, which computes the same hashed word feature vectors as the simulator.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

from langchain_core.embeddings import Embeddings
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from infrastructure.llm.config.references import embeddings_model_problem
from infrastructure.llm.config.schema import LLMConfig, ModelConfig
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers.hashed_features import DEFAULT_DIMENSIONS, hashed_feature_vector
from infrastructure.llm.providers.transport import loop_clients, sync_client, unbound_client
from infrastructure.llm.redaction import remember

# vLLM and most self-hosted OpenAI-compatible servers accept any key; the SDK insists on one.
_PLACEHOLDER_KEY = SecretStr("EMPTY")
# Defaults a model's params may override: a cache lookup must fail fast, not retry or wait.
_OPENAI_DEFAULTS: dict[str, Any] = {"max_retries": 0, "timeout": 10.0}


class MockEmbeddings(Embeddings):
    """Deterministic embeddings without I/O: the hashed word feature vectors of each text."""

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        self.dimensions = dimensions

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [hashed_feature_vector(text, self.dimensions) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return hashed_feature_vector(text, self.dimensions)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """As `embed_documents`, on the loop: microseconds, not worth a thread hop."""
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """As `embed_query`, on the loop."""
        return self.embed_query(text)


class OpenAICompatibleEmbeddings(Embeddings):
    """`OpenAIEmbeddings` on the package's shared sync HTTP client, and one per event loop on
    that loop's async client: an async client belongs to the loop that opened its
    connections, so a single `OpenAIEmbeddings` fails on the next `asyncio.run`.

    Texts are sent as plain strings (`check_embedding_ctx_length=False`), so no tokenizer is
    ever loaded or downloaded; `tiktoken_enabled` stays untouched, since turning it off
    would make a length check fetch a Hugging Face tokenizer instead.
    """

    def __init__(self, **settings: Any) -> None:
        self._build = partial(OpenAIEmbeddings, check_embedding_ctx_length=False, **settings)
        self.sync = self._build(http_client=sync_client(), http_async_client=unbound_client())

    def for_running_loop(self) -> OpenAIEmbeddings:
        """The `OpenAIEmbeddings` of the running loop; call it from the loop's thread."""
        clients = loop_clients()
        model = clients.models.get(self)
        if model is None:
            model = clients.models[self] = self._build(
                http_client=sync_client(), http_async_client=clients.client()
            )
        return model  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.sync.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.sync.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self.for_running_loop().aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await self.for_running_loop().aembed_query(text)


def build_embeddings(model: ModelConfig) -> Embeddings:
    """The `Embeddings` of a registry model of kind embeddings. Its key, and any password in
    its URL, are masked in every text this package writes from now on."""
    if model.kind != "embeddings":
        raise LLMWrapperError(f"model {model.name!r} is a chat model, not kind: embeddings")
    if model.provider == "mock":
        return MockEmbeddings(model.params.get("dimensions", DEFAULT_DIMENSIONS))
    remember(model.api_key.get_secret_value() if model.api_key is not None else None)
    remember(urlsplit(model.base_url).password if model.base_url else None)
    return OpenAICompatibleEmbeddings(
        model=model.model,
        base_url=model.base_url,
        api_key=model.api_key or _PLACEHOLDER_KEY,
        **{**_OPENAI_DEFAULTS, **model.params},
    )


def embeddings_from_registry(config: LLMConfig, name: str) -> Embeddings:
    """The `Embeddings` of the registry model `name`; LLMWrapperError if it is unknown or not
    of kind embeddings."""
    problem = embeddings_model_problem(name, config.models)
    if problem is not None:
        raise LLMWrapperError(problem)
    return build_embeddings(config.models[name])
