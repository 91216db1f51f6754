"""Registry embeddings models over real HTTP: `OpenAIEmbeddings` against the simulator gives the
mock provider's vectors, downloads nothing, works on every event loop and fails clearly."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
import tiktoken
from langchain_core.embeddings import Embeddings

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.config import ModelConfig, load_config_dir
from infrastructure.llm.providers.embeddings import build_embeddings, embeddings_from_registry

from conftest import StartSim, openai_model, write_config

TEXTS = ["What is the capital of France?", "法国的首都是哪里？", ""]


def _openai(base_url: str, **params: Any) -> Embeddings:
    return build_embeddings(
        ModelConfig(
            name="bge",
            kind="embeddings",
            provider="openai",
            model="bge-m3",
            base_url=base_url,
            api_key="sk-embed-secret",
            params=params,
        )
    )


def _mock(**params: Any) -> Embeddings:
    return build_embeddings(
        ModelConfig(name="m", kind="embeddings", provider="mock", model="h", params=params)
    )


def _same(first: list[list[float]], second: list[list[float]]) -> bool:
    """Equal but for float32 rounding: the openai SDK asks for base64-encoded float32."""
    return len(first) == len(second) and all(
        a == pytest.approx(b, abs=1e-7) for a, b in zip(first, second, strict=True)
    )


@pytest.mark.parametrize("params", [{}, {"dimensions": 128}])
def test_openai_embeddings_over_http_give_the_mock_vectors(
    start_sim: StartSim, params: dict[str, Any]
) -> None:
    sim = start_sim()
    remote, local = _openai(sim.base_url, **params), _mock(**params)
    assert _same(remote.embed_documents(TEXTS), local.embed_documents(TEXTS))
    assert _same([remote.embed_query(TEXTS[1])], [local.embed_query(TEXTS[1])])
    assert _same(asyncio.run(remote.aembed_documents(TEXTS)), local.embed_documents(TEXTS))
    assert len(remote.embed_query("x")) == params.get("dimensions", 768)
    assert sim.stats.embeddings == 4


def test_async_calls_work_on_one_event_loop_after_another(start_sim: StartSim) -> None:
    sim = start_sim()
    embeddings = _openai(sim.base_url)
    expected = _mock().embed_query("hello")
    for _ in range(3):  # a single OpenAIEmbeddings fails here: its client keeps the old loop
        assert _same([asyncio.run(embeddings.aembed_query("hello"))], [expected])


def test_nothing_is_tokenized_or_downloaded(
    start_sim: StartSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a tokenizer was asked for")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tiktoken, "encoding_for_model", refuse)
    monkeypatch.setitem(sys.modules, "transformers", None)  # importing it fails
    long_text = "word " * 10_000  # past OpenAI's 8191-token context: still sent whole
    sim = start_sim()
    [vector] = _openai(sim.base_url).embed_documents([long_text])
    assert _same([vector], _mock().embed_documents([long_text]))
    assert sim.stats.embeddings == 1


def test_a_failing_embeddings_server_raises_at_once_without_retrying(start_sim: StartSim) -> None:
    sim = start_sim("status:503:embeddings model not loaded")
    embeddings = _openai(sim.base_url)
    with pytest.raises(openai.InternalServerError) as caught:
        embeddings.embed_query("hello")
    assert caught.value.status_code == 503
    assert "embeddings model not loaded" in str(caught.value)
    with pytest.raises(openai.InternalServerError):
        asyncio.run(embeddings.aembed_query("hello"))
    assert sim.stats.embeddings == 2  # max_retries 0: one request a call


def test_a_hung_or_dead_embeddings_server_fails_within_the_timeout(
    start_sim: StartSim, dead_url: str
) -> None:
    hung = _openai(start_sim("hang").base_url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        hung.embed_query("hello")
    with pytest.raises(openai.APITimeoutError):
        asyncio.run(hung.aembed_query("hello"))
    assert time.monotonic() - started < 3
    with pytest.raises(openai.APIConnectionError):
        _openai(dead_url).embed_query("hello")


def test_an_embeddings_model_by_name_beside_a_working_chat_group(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = start_sim()
    embedder = {"kind": "embeddings", "provider": "openai", "model": "bge-m3"}
    models = {
        "chat": openai_model(sim.base_url),
        "embedder": {**embedder, "base_url": sim.base_url},
    }
    root = write_config(tmp_path / "llms", models, {"g": {"echelon1": {"models": ["chat"]}}})
    embeddings = embeddings_from_registry(load_config_dir(root), "embedder")
    assert _same([embeddings.embed_query("hi")], [_mock().embed_query("hi")])
    with LLMWrapperFactory.from_config_dir(root) as factory:
        reply = factory.get_wrapper("g_wrapper").invoke("hello there")
    assert reply.content == "Simulated reply to: hello there"
    assert (sim.stats.embeddings, sim.stats.completed) == (1, 1)
