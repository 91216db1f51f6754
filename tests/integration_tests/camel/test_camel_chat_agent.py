"""A real CAMEL `ChatAgent` on `WrapperModelBackend`, over real HTTP to the loopback simulator,
with a dead instance in the group: the agent calls its tool, the dead instance fails over, and
nothing is fetched from the internet (CAMEL's default token counter would fetch tiktoken files).

Runs in the camel virtualenv (see .ci/run); skipped where camel-ai is not installed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("camel", reason="camel-ai is not installed (the camel extra)")

from camel.agents import ChatAgent
from camel.toolkits import FunctionTool

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.adapters.camel import (
    OfflineTokenCounter,
    WrapperModelBackend,
)
from infrastructure.llm.sim import SimServer

from conftest import StartSim, openai_model, write_config

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}

TOOL_CALLS: list[tuple[int, int]] = []


def multiply(a: int, b: int) -> int:
    """Multiply two integers.

    Args:
        a (int): The first factor.
        b (int): The second factor.

    Returns:
        int: The product of a and b.
    """
    TOOL_CALLS.append((a, b))
    return a * b


@pytest.fixture(autouse=True)
def _no_tool_calls_yet() -> None:
    TOOL_CALLS.clear()


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Refuse (and note) every connection or name lookup that is not loopback; point
    tiktoken's cache at an empty directory, which must stay empty."""
    attempts: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            attempts.append(f"connect {address}")
            raise OSError(f"test: no network beyond loopback ({address})")
        return connect(sock, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in _LOOPBACK and host is not None:
            attempts.append(f"lookup {host}")
            raise socket.gaierror(f"test: no name lookups beyond loopback ({host})")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(cache))
    yield attempts
    assert list(cache.iterdir()) == [], "tiktoken cached a download"


@pytest.fixture
def fleet(tmp_path: Path, start_sim: StartSim, dead_url: str) -> Iterator[tuple[Any, SimServer]]:
    """A factory whose group `g` has two instances: m#0 refuses connections, m#1 answers."""
    healthy = start_sim("healthy")
    models = {"m": openai_model(dead_url, healthy.base_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 1}}}
    with LLMWrapperFactory.from_config_dir(write_config(tmp_path / "llms", models, groups)) as f:
        yield f, healthy


def agent_on(factory: Any, **config: Any) -> ChatAgent:
    backend = WrapperModelBackend(
        "g_wrapper", factory=factory, model_config_dict=config, token_limit=32_000
    )
    return ChatAgent(
        system_message="You are a calculator.",
        model=backend,
        tools=[FunctionTool(multiply)],
        stream_accumulate=False,
    )


def assert_failed_over(factory: Any, healthy: SimServer) -> None:
    """The dead instance was tried and failed; the live one answered every call."""
    stats = factory.get_wrapper("g_wrapper").get_stats()
    dead = stats["per_instance"]["m#0"]
    assert dead["failures"] == dead["requests"] >= 1
    assert stats["failed_requests"] == 0
    assert stats["successful_requests"] == healthy.stats.completed == 2  # tool call, answer


def test_a_chat_agent_calls_its_tool_through_the_wrapper(
    fleet: tuple[Any, SimServer], loopback_only: list[str]
) -> None:
    factory, healthy = fleet
    agent = agent_on(factory)
    response = agent.step("Please multiply the numbers.")
    assert TOOL_CALLS, "the tool was not called"
    (a, b), product = TOOL_CALLS[0], TOOL_CALLS[0][0] * TOOL_CALLS[0][1]
    records = response.info["tool_calls"]
    assert [(r.tool_name, r.args, r.result) for r in records] == [
        ("multiply", {"a": a, "b": b}, product)
    ]
    assert response.msgs[0].content == f"The tool returned: {product}"
    assert response.info["usage"]["total_tokens"] > 0
    assert_failed_over(factory, healthy)
    assert loopback_only == []


def test_a_streaming_chat_agent_calls_its_tool_through_the_wrapper(
    fleet: tuple[Any, SimServer], loopback_only: list[str]
) -> None:
    factory, healthy = fleet
    agent = agent_on(factory, stream=True)
    responses = list(agent.step("Please multiply the numbers."))
    assert TOOL_CALLS
    product = TOOL_CALLS[0][0] * TOOL_CALLS[0][1]
    text = "".join(r.msgs[0].content for r in responses if r.msgs)  # deltas, word by word
    assert text == f"The tool returned: {product}"
    assert [r.tool_name for r in responses[-1].info["tool_calls"]] == ["multiply"]
    assert_failed_over(factory, healthy)
    assert loopback_only == []


@pytest.mark.parametrize("stream", [False, True])
def test_an_async_chat_agent_calls_its_tool_through_the_wrapper(
    stream: bool, fleet: tuple[Any, SimServer], loopback_only: list[str]
) -> None:
    factory, healthy = fleet
    agent = agent_on(factory, stream=stream)

    async def ask() -> str:
        response = await agent.astep("Please multiply the numbers.")
        if not stream:
            return response.msgs[0].content
        return "".join([r.msgs[0].content async for r in response if r.msgs])

    text = asyncio.run(ask())
    assert TOOL_CALLS
    assert text == f"The tool returned: {TOOL_CALLS[0][0] * TOOL_CALLS[0][1]}"
    assert_failed_over(factory, healthy)
    assert loopback_only == []


def test_with_every_instance_dead_the_agent_is_answered_offline(
    tmp_path: Path, dead_url: str, loopback_only: list[str]
) -> None:
    models = {"m": openai_model(dead_url)}
    groups = {"g": {"echelon1": {"models": ["m"], "max_retries": 0}, "offline_fallback": "mock"}}
    with LLMWrapperFactory.from_config_dir(write_config(tmp_path / "llms", models, groups)) as f:
        response = agent_on(f).step("are you there")
        assert response.msgs[0].content == "Mock reply to: are you there"
        assert f.get_wrapper("g_wrapper").get_stats()["offline_answers"] == 1
    assert TOOL_CALLS == [] and loopback_only == []


def test_the_default_token_counter_needs_no_download(
    fleet: tuple[Any, SimServer], loopback_only: list[str]
) -> None:
    factory, _ = fleet
    backend = WrapperModelBackend("g_wrapper", factory=factory)
    counter = backend.token_counter
    assert isinstance(counter, OfflineTokenCounter)
    text = "Grüße, 世界! tokens"
    assert counter.decode(counter.encode(text)) == text
    messages = [{"role": "user", "content": text}]
    assert backend.count_tokens_from_messages(messages) == 6 + len(counter.encode(text))
    assert loopback_only == []
