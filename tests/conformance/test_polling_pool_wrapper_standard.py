"""langchain-tests' standard suites for PollingPoolWrapper.

The pool rotates over a dead instance (connections refused) and the simulator, so about half
the calls in the suite rotate past a failed attempt before they are answered.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from infrastructure.llm.sim import SimServer
from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

# langchain-openai caches one async httpx client per base_url; its pooled connections belong
# to the loop that opened them, so async tests share one session loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]

_config_dir: str | None = None


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose pool 'conformance_pool' rotates over a dead instance and the sim."""
    global _config_dir
    with SimServer() as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("models", "groups", "polling_pools"):
            (root / folder).mkdir()
        endpoints = [{"base_url": _refused_url()}, {"base_url": server.base_url}]
        models = {"sims": {"provider": "openai", "model": "sim-model", "endpoints": endpoints}}
        group = {
            "name": "conformance",
            "echelon1": {"models": ["sims"], "timeout": 10},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 100000}},
        }
        pool = {
            "name": "conformance_pool",
            "task_groups": ["conformance"],
            "rotation_strategy": "round_robin",
            "fallback_config": {"strategy": "instance_rotation", "max_instance_attempts": 2},
        }
        (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
        (root / "groups" / "conformance.yaml").write_text(yaml.safe_dump(group))
        (root / "polling_pools" / "conformance_pool.yaml").write_text(yaml.safe_dump(pool))
        _config_dir = tmp
        yield tmp
        _config_dir = None


def _params() -> dict:
    assert _config_dir is not None, "the module's config fixture is not running"
    return {"pool": "conformance_pool", "config_dir": _config_dir}


class TestPollingPoolWrapperUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[PollingPoolWrapper]:
        return PollingPoolWrapper

    @property
    def chat_model_params(self) -> dict:
        return _params()

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        assert _config_dir is not None
        return (
            {"LLM_WRAPPERS_CONFIG_DIR": _config_dir},
            {"pool": "conformance_pool"},
            {"config_dir": _config_dir},
        )


class TestPollingPoolWrapperIntegration(ChatModelIntegrationTests):
    """Media tests skip: the simulator does not interpret images, audio or PDFs."""

    @property
    def chat_model_class(self) -> type[PollingPoolWrapper]:
        return PollingPoolWrapper

    @property
    def chat_model_params(self) -> dict:
        return _params()

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        # A `model=` kwarg is passed to whichever instance serves the call.
        return "sim-model-override"
