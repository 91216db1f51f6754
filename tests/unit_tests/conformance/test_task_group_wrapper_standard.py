"""langchain-tests' standard unit suite for TaskGroupWrapper.

The same config as the integration suite (tests/integration_tests/conformance), with URLs
where nothing runs: unit tests build the wrapper but make no calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.task_group import TaskGroupWrapper

from conformance_suite import (
    TASK_GROUP_PARAMS,
    WrapperUnitSuite,
    config_dir_without_servers,
    write_task_group_config,
)


class TestTaskGroupWrapperUnit(WrapperUnitSuite):
    wrapper_class = TaskGroupWrapper
    wrapper_params: ClassVar[dict[str, str]] = TASK_GROUP_PARAMS


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose group 'conformance' fails over from echelon 1 to echelon 2."""
    with config_dir_without_servers(write_task_group_config) as directory:
        TestTaskGroupWrapperUnit.config_dir = directory
        yield directory
