"""Shared fixtures: simulator instances on loopback, task-group configs written to disk, and
the `llm-wrappers` command run in-process.

Both tiers (`unit_tests/`, `integration_tests/`) import these helpers by plain name
(`from conftest import ...`): `tests/` is no package, so pytest puts it on sys.path.
"""

from __future__ import annotations

import logging
import runpy
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.llm.cli import main as cli_main
from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.sim import FaultMode, SimServer

StartSim = Callable[..., SimServer]

REPO = Path(__file__).resolve().parents[1]
REPO_CONFIGS = REPO / "configs" / "llms"


@pytest.fixture
def start_sim() -> Iterator[StartSim]:
    """Start simulator instances on free loopback ports; all are stopped after the test."""
    servers: list[SimServer] = []

    def start(mode: str | FaultMode = "healthy", **kwargs: Any) -> SimServer:
        fault = FaultMode.parse(mode) if isinstance(mode, str) else mode
        server = SimServer(fault, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def openai_model(*urls: str, model: str = "sim-model") -> dict[str, Any]:
    """A registry entry for an OpenAI-compatible model served at `urls` (one instance each)."""
    return {
        "provider": "openai",
        "model": model,
        "api_key": "sk-test-secret",
        "endpoints": [{"base_url": url} for url in urls],
    }


def write_config(
    root: Path,
    models: dict[str, Any],
    groups: dict[str, dict[str, Any]],
    pools: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write a config directory (`models/registry.yaml`, `groups/<name>.yaml`,
    `polling_pools/<name>.yaml`) and return it."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "groups").mkdir(exist_ok=True)
    (root / "models" / "registry.yaml").write_text(yaml.safe_dump({"models": models}))
    for name, body in groups.items():
        (root / "groups" / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, **body}))
    if pools:
        (root / "polling_pools").mkdir(exist_ok=True)
        for name, body in pools.items():
            path = root / "polling_pools" / f"{name}.yaml"
            path.write_text(yaml.safe_dump({"name": name, **body}))
    return root


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager_for(tmp_path: Path, fake_clock: FakeClock) -> Callable[..., TaskGroupManager]:
    """Build a TaskGroupManager over a fresh config dir; backoff sleeps use the fake clock."""

    def build(
        models: dict[str, Any],
        groups: dict[str, dict[str, Any]],
        pools: dict[str, dict[str, Any]] | None = None,
    ) -> TaskGroupManager:
        directory = write_config(tmp_path / "llms", models, groups, pools)
        return TaskGroupManager.from_config_dir(directory, clock=fake_clock)

    return build


# --- the `llm-wrappers` command, in-process ------------------------------------------------

API_KEY = openai_model()["api_key"]  # the secret every test registry entry carries


@dataclass(frozen=True)
class Outcome:
    """Exit status and captured output of one in-process run."""

    code: int
    out: str
    err: str


RunCli = Callable[..., Outcome]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run `llm-wrappers *argv` in-process: its exit status, stdout and stderr."""

    def run(*argv: str) -> Outcome:
        code = cli_main(list(argv))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


RunInProcess = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> RunInProcess:
    """Run a command the way its own process would, without starting one.

    `argv[0]` is `llm-wrappers` (its console-script entry point, `infrastructure.llm.cli:main`,
    is called with the rest) or a Python script (run as `__main__` with `sys.argv = argv`).
    The result reads like `subprocess.run(argv, capture_output=True, text=True)`'s. As in a
    process of its own, log records reach stderr through logging's last-resort handler.
    """

    def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        args = list(argv)
        root = logging.getLogger()
        root.addHandler(logging.lastResort)  # what an unconfigured process logs to stderr
        try:
            if args[0] == "llm-wrappers":
                code: object = cli_main(args[1:])
            else:
                monkeypatch.setattr(sys, "argv", args)
                runpy.run_path(args[0], run_name="__main__")
                code = 0
        except SystemExit as exit_:
            code = exit_.code
        finally:
            root.removeHandler(logging.lastResort)
        captured = capsys.readouterr()
        status = 0 if code is None else code if isinstance(code, int) else 1
        return subprocess.CompletedProcess(args, status, captured.out, captured.err)

    return run
