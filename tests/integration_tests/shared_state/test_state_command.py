"""`llm-wrappers state` shows what replicas share in Redis and closes a breaker by hand;
`llm-wrappers health` says where the state lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infrastructure.llm.errors import AllTargetsFailedError
from infrastructure.llm.wrappers.factory import LLMWrapperFactory

from conftest import RunCli, StartSim, openai_model, write_config


def shared_fleet(root: Path, url: str, redis_url: str, key_prefix: str) -> Path:
    breaker = {"failure_threshold": 1, "recovery_time": 60}
    groups = {
        "g": {
            "echelon1": {"models": ["m"], "max_retries": 0, "concurrency_limit": 4},
            "fallback_config": {"circuit_breaker": breaker},
        }
    }
    directory = write_config(root / "llms", {"m": openai_model(url)}, groups)
    state = {"backend": "redis", "url": redis_url, "key_prefix": key_prefix}
    (directory / "state.yaml").write_text(yaml.safe_dump(state))
    return directory


def test_state_shows_an_open_breaker_and_reset_closes_it_for_every_replica(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str, cli: RunCli
) -> None:
    directory = shared_fleet(tmp_path, start_sim("error_rate:1.0").base_url, redis_url, key_prefix)
    with LLMWrapperFactory.from_config_dir(directory) as replica:
        wrapper = replica.get_wrapper("g_wrapper")
        with pytest.raises(AllTargetsFailedError):
            wrapper.invoke("hi")
        outcome = cli("--config-dir", str(directory), "state")
        assert outcome.code == 0, outcome.err
        assert f"state: shared ({redis_url}, key prefix {key_prefix!r})" in outcome.out
        [row] = [line for line in outcome.out.splitlines() if line.startswith("g ")]
        assert row.split()[:4] == ["g", "m#0", "open", "1"]

        outcome = cli("--config-dir", str(directory), "state", "--reset-breaker", "m#0")
        assert outcome.code == 0, outcome.err
        assert "closed the breakers of m#0 (task groups: g)" in outcome.out
        assert "breakers (not closed and clean):\n  none" in outcome.out
        # The replica that opened it sees it closed.
        assert replica.task_group_manager.state.breaker_record("breaker:g:m#0").state == "closed"


def test_reset_of_an_unknown_instance_names_the_known_ones(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str, cli: RunCli
) -> None:
    directory = shared_fleet(tmp_path, start_sim("healthy").base_url, redis_url, key_prefix)
    outcome = cli("--config-dir", str(directory), "state", "--reset-breaker", "m#9")
    assert outcome.code == 1
    assert "error: no instance 'm#9' in any task group (known: m#0)" in outcome.err


def test_state_of_a_directory_without_shared_state_says_there_is_nothing_to_show(
    tmp_path: Path, start_sim: StartSim, cli: RunCli
) -> None:
    groups = {"g": {"echelon1": {"models": ["m"]}}}
    directory = write_config(tmp_path / "llms", {"m": openai_model(start_sim().base_url)}, groups)
    outcome = cli("--config-dir", str(directory), "state")
    assert outcome.code == 1
    assert "keeps its state in each process (state: memory)" in outcome.err


def test_health_says_where_the_state_lives(
    tmp_path: Path, start_sim: StartSim, redis_url: str, key_prefix: str, cli: RunCli
) -> None:
    directory = shared_fleet(tmp_path, start_sim("healthy").base_url, redis_url, key_prefix)
    outcome = cli("--config-dir", str(directory), "health")
    assert outcome.code == 0, outcome.err
    assert outcome.out.rstrip().endswith(f"state: shared ({redis_url}, key prefix {key_prefix!r})")
