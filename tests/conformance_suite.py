"""What the standard suites of both wrappers share, in both tiers: the suite settings, which
read a config directory a module fixture writes, and that directory's contents.

The integration tier writes it with a dead instance (connections refused) beside a running
simulator; the unit tier, whose tests make no calls, writes the same files with URLs where
nothing is started.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from infrastructure.llm.sim import SimServer
from infrastructure.llm.wrappers.task_group import CONFIG_DIR_ENV

from conftest import write_config

WriteConfig = Callable[[Path, str, str], None]

# URLs for configs that are read but never called (the unit tier): nothing is started there.
UNUSED_DEAD_URL = "http://127.0.0.1:9/v1"
UNUSED_SIM_URL = "http://127.0.0.1:10/v1"


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@contextmanager
def config_dir_with_dead_instance(write: WriteConfig) -> Iterator[str]:
    """A temporary config dir: `write(root, dead_url, sim_url)` fills it while a simulator runs."""
    with SimServer() as server, tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), _refused_url(), server.base_url)
        yield tmp


@contextmanager
def config_dir_without_servers(write: WriteConfig) -> Iterator[str]:
    """A temporary config dir: `write(root, dead_url, sim_url)` fills it; no server runs."""
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), UNUSED_DEAD_URL, UNUSED_SIM_URL)
        yield tmp


# --- the wrappers' configs ------------------------------------------------------------------

POLLING_POOL_PARAMS: dict[str, str] = {"pool": "conformance_pool"}
TASK_GROUP_PARAMS: dict[str, str] = {"target": "conformance"}


def write_polling_pool_config(root: Path, dead_url: str, sim_url: str) -> None:
    """Pool 'conformance_pool' rotates over a dead instance and the sim."""
    endpoints = [{"base_url": dead_url}, {"base_url": sim_url}]
    models = {"sims": {"provider": "openai", "model": "sim-model", "endpoints": endpoints}}
    group = {
        "echelon1": {"models": ["sims"], "timeout": 10},
        "fallback_config": {"circuit_breaker": {"failure_threshold": 100000}},
    }
    pool = {
        "task_groups": ["conformance"],
        "rotation_strategy": "round_robin",
        "fallback_config": {"strategy": "instance_rotation", "max_instance_attempts": 2},
    }
    write_config(root, models, {"conformance": group}, {"conformance_pool": pool})


def write_task_group_config(root: Path, dead_url: str, sim_url: str) -> None:
    """Group 'conformance' fails over from a dead instance (echelon 1) to the sim (echelon 2)."""
    models = {
        "dead": {"provider": "openai", "model": "sim-model", "base_url": dead_url},
        "sim": {"provider": "openai", "model": "sim-model", "base_url": sim_url},
    }
    group = {
        "echelon1": {"models": ["dead"], "max_retries": 0},
        "echelon2": {"models": ["sim"], "timeout": 10},
        "fallback_config": {"circuit_breaker": {"failure_threshold": 100000}},
    }
    write_config(root, models, {"conformance": group})


# --- the suites' settings -------------------------------------------------------------------


class WrapperSuite:
    """The wrapper under test and how to build it; the module fixture sets `config_dir`."""

    wrapper_class: ClassVar[type[BaseChatModel]]
    wrapper_params: ClassVar[dict[str, str]]
    config_dir: ClassVar[str | None] = None

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return self.wrapper_class

    @property
    def chat_model_params(self) -> dict[str, Any]:
        assert self.config_dir is not None, "the module's config fixture is not running"
        return {**self.wrapper_params, "config_dir": self.config_dir}


class WrapperUnitSuite(WrapperSuite, ChatModelUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        assert self.config_dir is not None, "the module's config fixture is not running"
        return (
            {CONFIG_DIR_ENV: self.config_dir},
            dict(self.wrapper_params),
            {"config_dir": self.config_dir},
        )


class WrapperIntegrationSuite(WrapperSuite, ChatModelIntegrationTests):
    """Media tests skip: the simulator does not interpret images, audio or PDFs."""

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        # A `model=` kwarg is passed to whichever instance serves the call.
        return "sim-model-override"
