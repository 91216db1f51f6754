"""Fixtures for the `llm-wrappers` tests; the `cli` fixture that runs it is in tests/conftest.py."""

from __future__ import annotations

import pytest

from infrastructure.llm.wrappers.task_group import CONFIG_DIR_ENV


@pytest.fixture(autouse=True)
def _no_config_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their config directory; the developer's environment does not."""
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
