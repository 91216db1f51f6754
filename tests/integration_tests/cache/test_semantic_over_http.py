"""Semantic caching end to end: embeddings from an OpenAI-compatible `/v1/embeddings` (the
simulator's), chat over HTTP; a failing embeddings server leaves exact lookups working; with
Redis, what one replica stores another finds, and Redis trouble is only ever a miss."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.sim import SimServer

from .conftest import free_port
from conftest import StartSim, openai_model, write_config

QUESTION, PARAPHRASE = "Why is the sky blue?", "why is the sky blue"


def fleet(
    root: Path,
    chat: SimServer,
    vectors: SimServer,
    state: dict[str, Any] | None = None,
    **cache: Any,
) -> Path:
    """Group `g` over `chat` with a semantic cache whose embeddings `vectors` serves."""
    models = {
        "m": openai_model(chat.base_url),
        "vectors": {
            "kind": "embeddings",
            "provider": "openai",
            "model": "sim-embeddings",
            "base_url": vectors.base_url,
            "api_key": "sk-embeddings-secret",
        },
    }
    section = {"mode": "semantic", "embeddings": "vectors", **cache}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 0}, "cache": section}}
    directory = write_config(root, models, groups)
    if state is not None:
        (directory / "state.yaml").write_text(yaml.safe_dump(state))
    return directory


def cache_hit(factory: LLMWrapperFactory, prompt: str) -> Any:
    return factory.get_wrapper("g_wrapper").invoke(prompt).response_metadata["routing"]["cache_hit"]


def test_a_paraphrase_is_answered_from_the_cache(tmp_path: Path, start_sim: StartSim) -> None:
    chat, vectors = start_sim("healthy"), start_sim("healthy")
    with LLMWrapperFactory.from_config_dir(fleet(tmp_path, chat, vectors)) as factory:
        assert cache_hit(factory, QUESTION) is False
        llm = factory.get_wrapper("g_wrapper")
        hit = asyncio.run(llm.ainvoke(PARAPHRASE))
        assert hit.response_metadata["routing"]["cache_hit"] == "semantic"
        assert hit.content == f"Simulated reply to: {QUESTION}"
        assert hit.response_metadata["routing"]["similarity"] >= 0.8
    assert chat.stats.requests == 1
    assert vectors.stats.embeddings == 2


def test_an_embedding_failure_leaves_exact_lookups(
    tmp_path: Path, start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    chat, vectors = start_sim("healthy"), start_sim("status:503:embeddings model not loaded")
    with LLMWrapperFactory.from_config_dir(fleet(tmp_path, chat, vectors)) as factory:
        with caplog.at_level(logging.WARNING):
            assert cache_hit(factory, QUESTION) is False
            assert cache_hit(factory, QUESTION) == "exact"
            assert cache_hit(factory, PARAPHRASE) is False  # no vector: no semantic hit
        stats = factory.get_wrapper("g_wrapper").get_stats()["cache"]
    assert stats["embedding_failures"] == 2  # the two misses tried; the exact hit did not
    warnings = [r for r in caplog.records if "embedding failed" in r.getMessage()]
    assert len(warnings) == 1
    assert "sk-embeddings-secret" not in caplog.text
    assert chat.stats.requests == 2


def test_replicas_share_semantic_entries_through_redis(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str
) -> None:
    chat, vectors = start_sim("healthy"), start_sim("healthy")
    state = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix}
    directory = fleet(tmp_path, chat, vectors, state=state, backend="redis")
    with LLMWrapperFactory.from_config_dir(directory) as first:
        assert cache_hit(first, QUESTION) is False
        with LLMWrapperFactory.from_config_dir(directory) as second:
            assert cache_hit(second, QUESTION) == "exact"
            assert cache_hit(second, PARAPHRASE) == "semantic"
    assert chat.stats.requests == 1


def test_a_dead_redis_is_a_miss_and_calls_go_on(
    tmp_path: Path, start_sim: StartSim, caplog: pytest.LogCaptureFixture
) -> None:
    chat, vectors = start_sim("healthy"), start_sim("healthy")
    dead = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    directory = fleet(tmp_path, chat, vectors, backend="redis", url=dead)
    with caplog.at_level(logging.WARNING), LLMWrapperFactory.from_config_dir(directory) as factory:
        for _ in range(3):
            assert cache_hit(factory, QUESTION) is False
    assert chat.stats.requests == 3
    cache_warnings = [r for r in caplog.records if "response cache" in r.getMessage()]
    assert len(cache_warnings) == 1
    assert "hunter2" not in caplog.text
