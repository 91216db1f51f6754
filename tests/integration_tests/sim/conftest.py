"""Fixtures for simulator tests: a fresh healthy server and an openai client bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from infrastructure.llm.sim import SimServer


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A healthy simulator, stopped after the test."""
    with SimServer() as server:
        yield server


@pytest.fixture
def client(sim: SimServer) -> Iterator[openai.OpenAI]:
    """The real openai client on `sim`, without client-side retries."""
    with openai.OpenAI(base_url=sim.base_url, api_key="sk-test", max_retries=0, timeout=5) as c:
        yield c
