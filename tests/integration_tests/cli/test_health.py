"""`llm-wrappers health` against simulators: one row per instance, exit status 1 unless every
instance is healthy."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import API_KEY, RunCli, StartSim, openai_model, write_config


def _rows(out: str) -> list[list[str]]:
    """The table's rows as cells; cells are two or more spaces apart and hold no such run."""
    lines = out.split("\n\n")[0].splitlines()
    assert lines[0].split() == ["INSTANCE", "MODEL", "PROVIDER", "BASE_URL", "HEALTHY", "ERROR"]
    return [re.split(r" {2,}", line) for line in lines[1:]]


def test_a_dead_instance_fails_the_check(
    cli: RunCli, tmp_path: Path, start_sim: StartSim, dead_url: str
) -> None:
    alive = start_sim("healthy")
    directory = write_config(
        tmp_path / "llms",
        {"sim": openai_model(alive.base_url, dead_url)},
        {"fast": {"echelon1": {"models": ["sim"]}}},
        {"fast_pool": {"task_groups": ["fast"]}},  # the same instances again: probed once
    )
    outcome = cli("health", "--config-dir", str(directory), "--timeout", "2")
    assert outcome.code == 1
    alive_row, dead = _rows(outcome.out)
    assert alive_row == ["sim#0", "sim", "openai", alive.base_url, "yes"]
    assert dead[:5] == ["sim#1", "sim", "openai", dead_url, "no"]
    assert dead[5].startswith("APIConnectionError")
    assert "1 of 2 instances healthy" in outcome.out
    assert API_KEY not in outcome.out + outcome.err


def test_all_healthy_exits_zero(cli: RunCli, tmp_path: Path, start_sim: StartSim) -> None:
    directory = write_config(
        tmp_path / "llms",
        {"sim": openai_model(start_sim().base_url), "echo": {"provider": "mock", "model": "e"}},
        {"fast": {"echelon1": {"models": ["sim"]}, "echelon2": {"models": ["echo"]}}},
    )
    outcome = cli("--config-dir", str(directory), "health")
    assert outcome.code == 0, outcome.out
    assert "2 of 2 instances healthy" in outcome.out
    assert "echo#0" in outcome.out
