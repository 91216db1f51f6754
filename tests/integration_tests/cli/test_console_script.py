"""The installed `llm-wrappers` command and `python -m infrastructure.llm.cli`, each run as a
process of its own: the console script's `sim` serves until terminated.

These are the subprocess smoke tests of both entry points; other `llm-wrappers` tests call
its entry point in-process (the unit tier's cli/ tests).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import RunCli, openai_model, write_config


def _console_script() -> str:
    """`llm-wrappers` next to this interpreter (a venv's bin/), else on PATH."""
    here = str(Path(sys.executable).parent)
    found = shutil.which("llm-wrappers", path=here) or shutil.which("llm-wrappers")
    assert found, "llm-wrappers is not installed; run: pip install -e '.[dev,sim]'"
    return found


def test_the_module_runs_as_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infrastructure.llm.cli", "chat", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: llm-wrappers chat")


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
