"""langchain-tests' standard suites for PollingPoolWrapper.

The pool rotates over a dead instance (connections refused) and the simulator, so about half
the calls in the suite rotate past a failed attempt before they are answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from .suite import WrapperIntegrationSuite, WrapperUnitSuite, config_dir_with_dead_instance
from conftest import write_config

# langchain-openai caches one async httpx client per base_url; its pooled connections belong
# to the loop that opened them, so async tests share one session loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]


def _write(root: Path, dead_url: str, sim_url: str) -> None:
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


class TestPollingPoolWrapperUnit(WrapperUnitSuite):
    wrapper_class = PollingPoolWrapper
    wrapper_params: ClassVar[dict[str, str]] = {"pool": "conformance_pool"}


class TestPollingPoolWrapperIntegration(WrapperIntegrationSuite):
    wrapper_class = PollingPoolWrapper
    wrapper_params: ClassVar[dict[str, str]] = {"pool": "conformance_pool"}


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose pool 'conformance_pool' rotates over a dead instance and the sim."""
    with config_dir_with_dead_instance(_write) as directory:
        for suite in (TestPollingPoolWrapperUnit, TestPollingPoolWrapperIntegration):
            suite.config_dir = directory
        yield directory
