"""What the standard suites of both wrappers share: a config directory, written by a module
fixture, in which a dead instance (connections refused) stands beside the simulator, and the
suite settings that read it."""

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

WriteConfig = Callable[[Path, str, str], None]


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
