"""The installed `llm-wrappers` command, `python -m infrastructure.llm.cli`, and `sim`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .helpers import REPO_CONFIGS, RunCli
from conftest import openai_model, write_config


def _console_script() -> str:
    """`llm-wrappers` next to this interpreter (a venv's bin/), else on PATH."""
    here = str(Path(sys.executable).parent)
    found = shutil.which("llm-wrappers", path=here) or shutil.which("llm-wrappers")
    assert found, "llm-wrappers is not installed; run: pip install -e '.[dev,sim]'"
    return found


def test_the_console_script_validates_the_repository_configs() -> None:
    result = subprocess.run(
        [_console_script(), "validate", "--config-dir", str(REPO_CONFIGS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "fast_group_wrapper" in result.stdout


def test_the_module_runs_as_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infrastructure.llm.cli", "chat", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: llm-wrappers chat")


def test_sim_passes_its_arguments_to_the_simulator(
    capsys: pytest.CaptureFixture[str], cli: RunCli
) -> None:
    with pytest.raises(SystemExit) as info:
        cli("sim", "--help")
    assert info.value.code == 0
    assert "--instances" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli("sim", "--mode", "slow:fast")
    assert info.value.code == 2


def test_sim_serves_instances_until_terminated(cli: RunCli, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [_console_script(), "sim", "--instances", "healthy,refuse"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().rstrip("\n").split("\t") for _ in range(2)]
        assert [mode for mode, _ in lines] == ["healthy", "refuse"]
        healthy_url, refused_url = (url for _, url in lines)
        with urllib.request.urlopen(f"{healthy_url}/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == "sim-model"
        directory = write_config(
            tmp_path / "llms",
            {"sim": openai_model(refused_url, healthy_url)},
            {"fast": {"echelon1": {"models": ["sim"]}}},
        )
        outcome = cli("--config-dir", str(directory), "chat", "fast", "ping")
        assert outcome.code == 0, outcome.err
        assert outcome.out == "Simulated reply to: ping\n"
        assert "instance=sim#1" in outcome.err
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
