"""langchain-tests' standard integration suite for TaskGroupWrapper.

Echelon 1 is a dead instance (connections refused), echelon 2 the simulator: every call in
the suite fails over before it is answered. The unit suite is in tests/unit_tests/conformance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conformance_suite import (
    TASK_GROUP_PARAMS,
    WrapperIntegrationSuite,
    config_dir_with_dead_instance,
    write_task_group_config,
)

# langchain-openai caches one async httpx client per base_url; its pooled connections belong
# to the loop that opened them, so async tests share one session loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]


class TestTaskGroupWrapperIntegration(WrapperIntegrationSuite):
    wrapper_class = TaskGroupWrapper
    wrapper_params: ClassVar[dict[str, str]] = TASK_GROUP_PARAMS


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose group 'conformance' fails over from a dead instance to the sim."""
    with config_dir_with_dead_instance(write_task_group_config) as directory:
        TestTaskGroupWrapperIntegration.config_dir = directory
        yield directory
