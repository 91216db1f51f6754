"""The runnable examples run and say what they promise: each script under examples/ as a
process of its own, the demo command in-process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure import demo

from conftest import RunInProcess, StartSim

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quickstart_answers_every_call_despite_failing_instances() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "11/11 calls answered" in result.stdout
    assert "Simulated reply to: What does a circuit breaker do?" in result.stdout
    assert "fleet#dead     open" in result.stdout


def test_seed_usage_example_runs_every_part() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_usage.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=EXAMPLES.parent,
    )
    assert "task group: Simulated reply to: Hello, please introduce yourself" in result.stdout
    assert "pool: Simulated reply to: Hello, please introduce yourself" in result.stdout
    assert "node: Simulated reply to: What is a polling pool?" in result.stdout
    assert "wrappers: 2 {'task_group': 1, 'polling_pool': 1}" in result.stdout


def test_demo_command_answers_every_call_through_the_workflow(
    run_in_process: RunInProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`llm-wrappers demo`, run in-process from a directory with no configs in it: the example
    config ships with the package. The console script itself is run as a process by
    cli/test_console_script.py in this tier."""
    monkeypatch.chdir(tmp_path)
    result = run_in_process(["llm-wrappers", "demo"])
    result.check_returncode()
    assert "6/6 calls answered" in result.stdout
    assert "[answer] Simulated reply to: What does a circuit breaker do?" in result.stdout
    assert "fast_group.echelon1  openai-gpt4#0                open" in result.stdout
    assert "fast_pool after 3 health-check rounds: 3/6 instances healthy" in result.stdout


def test_demo_uses_a_real_server_named_in_the_environment(
    start_sim: StartSim, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Variables the user sets win over the demo's simulators (here a simulator stands in
    for the user's real OpenAI-compatible server)."""
    users_server = start_sim("healthy")
    monkeypatch.setenv("LLM_WRAPPERS_OPENAI_URL", users_server.base_url)
    monkeypatch.setenv("LLM_WRAPPERS_OPENAI_MODEL", "my-model")
    assert demo.main([]) == 0
    # Every answer node call went to echelon 1's openai-gpt4, the user's server (the pool
    # node may send it calls too).
    assert users_server.stats.completed >= len(demo.QUESTIONS)
    output = capsys.readouterr().out
    assert "fast_group.echelon1  openai-gpt4#0                closed" in output
    # Echelon 1 answered every call (its other model, still simulated dead, costs retries).
    assert re.search(r"fast_group_wrapper: 3/3 answered, \d+ retries, 0 fallbacks", output)
