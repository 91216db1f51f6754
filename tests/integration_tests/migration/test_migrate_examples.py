"""A migrated legacy example answers real calls over HTTP the way its legacy layout meant.

The migration of every example without a server is tested in the unit tier (migration/).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infrastructure.llm import LLMWrapperFactory
from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.migration import ConfigMigrator

from conftest import StartSim
from legacy_examples import EXPECTED_ROUTES

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "legacy_configs"


def copy_example(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def test_calls_over_http_try_the_legacy_chain_in_order(
    tmp_path: Path, start_sim: StartSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every instance failing, a real call through the migrated `chat_wrapper` walks the
    whole chain: one request per target, hops in the legacy order."""
    failing = start_sim("error_rate:1.0")
    monkeypatch.setenv("LEGACY_SIM_URL", failing.base_url)
    root = copy_example("global_chain", tmp_path)
    ConfigMigrator.from_config_dir(root).migrate()
    with LLMWrapperFactory.from_config_dir(root) as factory:
        wrapper = factory.get_wrapper("chat_wrapper")
        with pytest.raises(AllTargetsFailedError):
            wrapper.invoke("hello")
        hops = wrapper.get_fallback_history()
    tried = [hops[0]["from_target"], *(hop["to_target"] for hop in hops)]
    assert tried == EXPECTED_ROUTES["global_chain"]["chat.echelon1"]
    assert failing.stats.requests == len(tried)
