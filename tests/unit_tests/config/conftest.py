"""Fixtures for config tests: a scratch config directory and helpers to write and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import LLMConfig, load_config_dir
from infrastructure.llm.errors import ConfigError, ConfigIssue

REGISTRY = """
models:
  alpha:
    provider: mock
    model: echo
  beta:
    provider: openai
    model: gpt-x
    base_url: http://127.0.0.1:9000/v1
    api_key: sk-beta-secret
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """An empty config directory with models/ and groups/."""
    (tmp_path / "models").mkdir()
    (tmp_path / "groups").mkdir()
    return tmp_path


@pytest.fixture
def write(config_dir: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML text to a path relative to the config directory."""

    def write_file(relative: str, text: str) -> Path:
        path = config_dir / relative
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def registry(write: Callable[[str, str], Path]) -> Path:
    """A valid registry with models `alpha` (mock) and `beta` (openai, with a secret key)."""
    return write("models/registry.yaml", REGISTRY)


@pytest.fixture
def load(config_dir: Path) -> Callable[..., LLMConfig]:
    """Load the config directory with an explicit (empty by default) environment."""

    def load_dir(env: dict[str, str] | None = None) -> LLMConfig:
        return load_config_dir(config_dir, env=env or {})

    return load_dir


@pytest.fixture
def issues(config_dir: Path) -> Callable[..., list[ConfigIssue]]:
    """Load the config directory expecting ConfigError; return its issues."""

    def load_issues(env: dict[str, str] | None = None) -> list[ConfigIssue]:
        with pytest.raises(ConfigError) as caught:
            load_config_dir(config_dir, env=env or {})
        return caught.value.issues

    return load_issues


@pytest.fixture
def issue(issues: Callable[..., list[ConfigIssue]]) -> Callable[..., ConfigIssue]:
    """Load the config directory expecting exactly one issue; return it."""

    def load_issue(env: dict[str, str] | None = None) -> ConfigIssue:
        found = issues(env)
        assert len(found) == 1, [str(item) for item in found]
        return found[0]

    return load_issue
