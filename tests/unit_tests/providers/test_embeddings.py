"""Building the `Embeddings` of a registry model: the mock's vectors, the OpenAI settings."""

from __future__ import annotations

import asyncio

import pytest
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from infrastructure.llm.config import LLMConfig, ModelConfig
from infrastructure.llm.errors import LLMWrapperError
from infrastructure.llm.providers.embeddings import (
    MockEmbeddings,
    OpenAICompatibleEmbeddings,
    build_embeddings,
    embeddings_from_registry,
)
from infrastructure.llm.providers.hashed_features import hashed_feature_vector
from infrastructure.llm.redaction import redact

TEXTS = ["How do I reset my password?", "如何重置密码？"]


def _embeddings_model(**fields: object) -> ModelConfig:
    return ModelConfig.model_validate({"name": "embedder", "kind": "embeddings", **fields})


def test_mock_embeddings_are_the_hashed_feature_vectors() -> None:
    embeddings = build_embeddings(_embeddings_model(provider="mock", model="hashed"))
    assert isinstance(embeddings, MockEmbeddings)
    assert embeddings.embed_documents(TEXTS) == [hashed_feature_vector(t) for t in TEXTS]
    assert embeddings.embed_query(TEXTS[0]) == hashed_feature_vector(TEXTS[0])
    assert asyncio.run(embeddings.aembed_documents(TEXTS)) == embeddings.embed_documents(TEXTS)
    assert asyncio.run(embeddings.aembed_query(TEXTS[1])) == hashed_feature_vector(TEXTS[1])


def test_mock_embeddings_take_their_dimensions_from_params() -> None:
    model = _embeddings_model(provider="mock", model="hashed", params={"dimensions": 32})
    assert build_embeddings(model).embed_query("hello") == hashed_feature_vector("hello", 32)


def test_openai_embeddings_send_plain_strings_fail_fast_and_honour_params() -> None:
    model = _embeddings_model(
        provider="openai",
        model="bge-m3",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-embed-secret",
        params={"dimensions": 256, "timeout": 2.5},
    )
    embeddings = build_embeddings(model)
    assert isinstance(embeddings, OpenAICompatibleEmbeddings)
    inner = embeddings.sync
    assert isinstance(inner, OpenAIEmbeddings)
    assert inner.check_embedding_ctx_length is False  # no tiktoken, no tokenizer download
    assert (inner.model, inner.dimensions, inner.max_retries) == ("bge-m3", 256, 0)
    assert (inner.request_timeout, inner.openai_api_base) == (2.5, "http://127.0.0.1:9/v1")
    assert inner.openai_api_key == SecretStr("sk-embed-secret")
    assert redact("key sk-embed-secret") == "key ***"


def test_openai_embeddings_without_a_key_send_a_placeholder_and_wait_10_s() -> None:
    model = _embeddings_model(provider="openai", model="m", base_url="http://127.0.0.1:9/v1")
    inner = build_embeddings(model).sync  # type: ignore[attr-defined]
    assert inner.openai_api_key == SecretStr("EMPTY")
    assert (inner.request_timeout, inner.dimensions) == (10.0, None)


def test_a_chat_model_builds_no_embeddings() -> None:
    chat = ModelConfig(name="chat", provider="mock", model="echo")
    with pytest.raises(LLMWrapperError, match="model 'chat' is a chat model, not kind: embeddings"):
        build_embeddings(chat)


def test_embeddings_from_registry_by_name() -> None:
    config = LLMConfig(
        models={
            "chat": ModelConfig(name="chat", provider="mock", model="echo"),
            "embedder": _embeddings_model(provider="mock", model="hashed"),
        }
    )
    embeddings = embeddings_from_registry(config, "embedder")
    assert embeddings.embed_query("hi") == hashed_feature_vector("hi")
    with pytest.raises(LLMWrapperError) as unknown:
        embeddings_from_registry(config, "embeder")
    assert str(unknown.value) == (
        "unknown model 'embeder'; did you mean 'embedder'? known embeddings models: embedder"
    )
    with pytest.raises(LLMWrapperError) as chat:
        embeddings_from_registry(config, "chat")
    assert str(chat.value) == (
        "model 'chat' is a chat model; name a registry model with kind: embeddings"
    )
    with pytest.raises(LLMWrapperError, match="the registry has no model of kind embeddings"):
        embeddings_from_registry(LLMConfig(), "embedder")
