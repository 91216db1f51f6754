"""langchain-tests' ChatModelIntegrationTests for plain ChatOpenAI against the simulator.

This proves the simulator answers the way the standard suite expects, so the same suite can
later run against our wrappers backed by it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from infrastructure.llm.sim import SimServer

# langchain-openai caches one async httpx client per base_url across tests; its pooled
# keep-alive connections belong to the loop that opened them, so async tests share one loop.
# The module-wide mark also lands on the sync tests, which pytest-asyncio warns about.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]

_server: SimServer | None = None


@pytest.fixture(scope="module", autouse=True)
def simulator() -> Iterator[SimServer]:
    """One healthy simulator for the whole module, published for `chat_model_params`."""
    global _server
    with SimServer() as server:
        _server = server
        yield server
    _server = None


class TestChatOpenAIOnSimulator(ChatModelIntegrationTests):
    """The standard suite against plain ChatOpenAI on the simulator.

    Skipped on purpose: image, PDF and audio input tests (the capability properties keep
    their False defaults) because the simulator does not interpret media and those tests
    download their samples from the internet; multimodal text parts are covered in
    test_endpoints. test_stream_time skips because it needs recorded VCR cassettes.
    """

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict:
        assert _server is not None, "the module's simulator fixture is not running"
        return {
            "model": "sim-model",
            "base_url": _server.base_url,
            "api_key": "sk-test",
            "max_retries": 0,
            "stream_usage": True,
        }

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "sim-model-override"
