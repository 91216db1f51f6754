"""Shared fixtures: simulator instances on loopback and task-group configs written to disk."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.llm.clock import FakeClock
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.sim import FaultMode, SimServer

StartSim = Callable[..., SimServer]


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
