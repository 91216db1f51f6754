"""The `llm-wrappers` console script's entry point, `infrastructure.llm.cli:main`, run
in-process: `validate` on the repository configs, and `sim`'s arguments.

The installed script itself runs as a process in the integration tier
(cli/test_console_script.py).
"""

from __future__ import annotations

import pytest

from conftest import REPO_CONFIGS, RunCli, RunInProcess


def test_the_console_script_validates_the_repository_configs(
    run_in_process: RunInProcess,
) -> None:
    result = run_in_process(["llm-wrappers", "validate", "--config-dir", str(REPO_CONFIGS)])
    assert result.returncode == 0, result.stderr
    assert "fast_group_wrapper" in result.stdout


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
