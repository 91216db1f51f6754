"""langchain-tests' standard integration suite for PollingPoolWrapper.

The pool rotates over a dead instance (connections refused) and the simulator, so about half
the calls in the suite rotate past a failed attempt before they are answered. The unit suite
is in tests/unit_tests/conformance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from infrastructure.llm.wrappers.polling_pool import PollingPoolWrapper

from conformance_suite import (
    POLLING_POOL_PARAMS,
    WrapperIntegrationSuite,
    config_dir_with_dead_instance,
    write_polling_pool_config,
)

# langchain-openai caches one async httpx client per base_url; its pooled connections belong
# to the loop that opened them, so async tests share one session loop.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function"),
]


class TestPollingPoolWrapperIntegration(WrapperIntegrationSuite):
    wrapper_class = PollingPoolWrapper
    wrapper_params: ClassVar[dict[str, str]] = POLLING_POOL_PARAMS


@pytest.fixture(scope="module", autouse=True)
def conformance_config() -> Iterator[str]:
    """A config dir whose pool 'conformance_pool' rotates over a dead instance and the sim."""
    with config_dir_with_dead_instance(write_polling_pool_config) as directory:
        TestPollingPoolWrapperIntegration.config_dir = directory
        yield directory
