"""langchain-tests' standard suites for TaskGroupWrapper.

Echelon 1 is a dead instance (connections refused), echelon 2 the simulator: every call in
the suite fails over before it is answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from .suite import WrapperIntegrationSuite, WrapperUnitSuite, config_dir_with_dead_instance
from conftest import write_config

# langchain-openai caches one async httpx client per base_url; its pooled connections belong
# to the loop that opened them, so async tests share one session loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]


def _write(root: Path, dead_url: str, sim_url: str) -> None:
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


class TestTaskGroupWrapperUnit(WrapperUnitSuite):
    wrapper_class = TaskGroupWrapper
    wrapper_params: ClassVar[dict[str, str]] = {"target": "conformance"}


class TestTaskGroupWrapperIntegration(WrapperIntegrationSuite):
    wrapper_class = TaskGroupWrapper
    wrapper_params: ClassVar[dict[str, str]] = {"target": "conformance"}


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose group 'conformance' fails over from a dead instance to the sim."""
    with config_dir_with_dead_instance(_write) as directory:
        for suite in (TestTaskGroupWrapperUnit, TestTaskGroupWrapperIntegration):
            suite.config_dir = directory
        yield directory
