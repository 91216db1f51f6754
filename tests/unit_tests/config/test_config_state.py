"""`state.yaml`: where limits, breakers, cool-downs and health live, validated like every
other config file, with errors naming file and field and never echoing a password."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.config import LLMConfig
from infrastructure.llm.config.schema import StateConfig
from infrastructure.llm.errors import ConfigIssue, LLMWrapperError
from infrastructure.llm.resilience.state import InMemoryState
from infrastructure.llm.resilience.state_choice import build_state

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]


def test_without_a_state_file_state_lives_in_memory(registry: Path, load: Load) -> None:
    assert load().state == StateConfig()
    assert load().state.backend == "memory"


def test_a_redis_state_file_is_read_with_variables_expanded(
    registry: Path, write: Write, load: Load
) -> None:
    write(
        "state.yaml",
        """
        backend: redis
        url: ${LLM_WRAPPERS_REDIS_URL:-redis://127.0.0.1:6379/0}
        key_prefix: "fleet-a:"
        op_timeout: 0.1
        """,
    )
    state = load().state
    assert state.url is not None and state.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert (state.backend, state.key_prefix, state.op_timeout) == ("redis", "fleet-a:", 0.1)
    other = load({"LLM_WRAPPERS_REDIS_URL": "rediss://cache:6380/2"}).state
    assert other.url is not None and other.url.get_secret_value() == "rediss://cache:6380/2"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("backend: redis\n", "url", "backend 'redis' needs a url"),
        ("url: redis://h:6379/0\n", "backend", "a url is set but backend is 'memory'"),
        ("backend: valkey\n", "backend", "expected one of 'memory' or 'redis'"),
        ("backend: redis\nurl: redis://h/0\nop_timeout: 0\n", "op_timeout", "> 0"),
        ("backend: redis\nurl: redis://h/0\nlease_time: .inf\n", "lease_time", "finite"),
        ("backend: redis\nurl: redis://h/0\nkey_prefix: ''\n", "key_prefix", "non-empty"),
        ("backend: redis\nurl: redis://h/0\nop_timout: 1\n", "op_timout", "unknown field"),
    ],
)
def test_a_bad_state_file_names_file_and_field(
    registry: Path, write: Write, issue: Issue, text: str, path: str, message: str
) -> None:
    file = write("state.yaml", text)
    found = issue()
    assert (found.file, found.path) == (str(file), path)
    assert message in found.message


def test_a_url_that_is_not_redis_is_refused_without_echoing_it(
    registry: Path, write: Write, issue: Issue
) -> None:
    write("state.yaml", "backend: redis\nurl: 'http://admin:hunter2@cache:6379'\n")
    found = issue()
    assert found.path == "url" and "redis://" in found.message
    assert "hunter2" not in str(found) and "admin" not in str(found)


def test_the_url_is_a_secret_in_reprs(registry: Path, write: Write, load: Load) -> None:
    write("state.yaml", "backend: redis\nurl: 'redis://:hunter2@cache:6379/0'\n")
    assert "hunter2" not in repr(load())


def test_state_yaml_and_state_yml_together_conflict(
    registry: Path, write: Write, issue: Issue
) -> None:
    write("state.yaml", "backend: memory\n")
    write("state.yml", "backend: memory\n")
    assert "conflicting state files" in issue().message


def test_a_state_given_to_the_fleet_wins_over_the_file() -> None:
    own = InMemoryState()
    configured = StateConfig(backend="redis", url=SecretStr("redis://127.0.0.1:1/0"))
    assert build_state(own, configured, FakeClock()) is own
    assert isinstance(build_state(None, StateConfig(), FakeClock()), InMemoryState)


def test_a_state_url_that_is_not_redis_is_refused_before_connecting() -> None:
    with pytest.raises(LLMWrapperError, match=r"^state=: expected a redis://"):
        build_state("http://cache:6379", StateConfig(), FakeClock())
