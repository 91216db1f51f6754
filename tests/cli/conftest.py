"""Fixtures for the `llm-wrappers` tests: run the command in-process and capture its output."""

from __future__ import annotations

import pytest

from infrastructure.llm.cli import main
from infrastructure.llm.wrappers.task_group import CONFIG_DIR_ENV

from .helpers import Outcome, RunCli


@pytest.fixture(autouse=True)
def _no_config_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their config directory; the developer's environment does not."""
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run `llm-wrappers *argv` in-process: its exit status, stdout and stderr."""

    def run(*argv: str) -> Outcome:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
