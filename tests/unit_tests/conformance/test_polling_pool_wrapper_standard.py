"""langchain-tests' standard unit suite for PollingPoolWrapper.

The same config as the integration suite (tests/integration_tests/conformance), with URLs
where nothing runs: unit tests build the wrapper but make no calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from conformance_suite import (
    POLLING_POOL_PARAMS,
    WrapperUnitSuite,
    config_dir_without_servers,
    write_polling_pool_config,
)


class TestPollingPoolWrapperUnit(WrapperUnitSuite):
    wrapper_class = PollingPoolWrapper
    wrapper_params: ClassVar[dict[str, str]] = POLLING_POOL_PARAMS


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose pool 'conformance_pool' rotates over two instances."""
    with config_dir_without_servers(write_polling_pool_config) as directory:
        TestPollingPoolWrapperUnit.config_dir = directory
        yield directory
