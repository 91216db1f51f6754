"""langchain-tests' standard suites for TaskGroupWrapper.

Echelon 1 is a dead instance (connections refused), echelon 2 the simulator: every call in
the suite fails over before it is answered.
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
from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

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
    """A config dir whose group 'conformance' fails over from a dead instance to the sim."""
    global _config_dir
    with SimServer() as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "models").mkdir()
        (root / "groups").mkdir()
        models = {
            "dead": {"provider": "openai", "model": "sim-model", "base_url": _refused_url()},
            "sim": {"provider": "openai", "model": "sim-model", "base_url": server.base_url},
        }
        group = {
            "name": "conformance",
            "echelon1": {"models": ["dead"], "max_retries": 0},
            "echelon2": {"models": ["sim"], "timeout": 10},
            "fallback_config": {"circuit_breaker": {"failure_threshold": 100000}},
        }
        (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
        (root / "groups" / "conformance.yaml").write_text(yaml.safe_dump(group))
        _config_dir = tmp
        yield tmp
        _config_dir = None


def _params() -> dict:
    assert _config_dir is not None, "the module's config fixture is not running"
    return {"target": "conformance", "config_dir": _config_dir}


class TestTaskGroupWrapperUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[TaskGroupWrapper]:
        return TaskGroupWrapper

    @property
    def chat_model_params(self) -> dict:
        return _params()

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        assert _config_dir is not None
        return (
            {"LLM_WRAPPERS_CONFIG_DIR": _config_dir},
            {"target": "conformance"},
            {"config_dir": _config_dir},
        )


class TestTaskGroupWrapperIntegration(ChatModelIntegrationTests):
    """Media tests skip: the simulator does not interpret images, audio or PDFs."""

    @property
    def chat_model_class(self) -> type[TaskGroupWrapper]:
        return TaskGroupWrapper

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
