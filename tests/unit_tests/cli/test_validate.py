"""`llm-wrappers validate`: a summary of a valid directory, or every issue with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.llm.wrappers.task_group import CONFIG_DIR_ENV

from conftest import API_KEY, REPO_CONFIGS, RunCli, openai_model, write_config


def _valid_config(root: Path) -> Path:
    return write_config(
        root,
        {"sim": openai_model("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")},
        {"fast": {"echelon1": {"models": ["sim"]}}, "slow": {"echelon1": {"models": ["sim"]}}},
        {"fast_pool": {"task_groups": ["fast"]}},
    )


def test_a_valid_directory_is_summarised(cli: RunCli, tmp_path: Path) -> None:
    directory = _valid_config(tmp_path / "llms")
    outcome = cli("validate", "--config-dir", str(directory))
    assert outcome.code == 0
    assert outcome.err == ""
    assert "1 model, 2 instances, 2 task groups, 1 polling pool" in outcome.out
    assert "wrappers: fast_pool_wrapper, fast_wrapper, slow_wrapper" in outcome.out
    assert API_KEY not in outcome.out


def test_every_issue_is_printed_with_file_and_field(cli: RunCli, tmp_path: Path) -> None:
    directory = write_config(
        tmp_path / "llms",
        {"sim": {"provider": "openai", "model": "m", "api_key": API_KEY}},  # no base_url
        {"fast": {"echelon1": {"models": ["sim"], "timeout": -1}}},
    )
    outcome = cli("validate", "--config-dir", str(directory))
    assert outcome.code == 1
    assert outcome.out == ""  # nothing that could pass for success
    lines = outcome.err.splitlines()
    assert lines[0] == "invalid configuration: 2 issues"
    registry = str(directory / "models" / "registry.yaml")
    group = str(directory / "groups" / "fast.yaml")
    assert sorted(lines[1:]) == sorted(
        [
            f"{registry}: models.sim.base_url: provider 'openai' needs a base_url, "
            "on the model or on every endpoint",
            f"{group}: echelon1.timeout: expected a number > 0, got -1",
        ]
    )
    assert API_KEY not in outcome.err


def test_a_missing_directory_is_a_clear_error(cli: RunCli, tmp_path: Path) -> None:
    outcome = cli("validate", "--config-dir", str(tmp_path / "absent"))
    assert outcome.code == 1
    assert outcome.out == ""
    assert "configuration directory" in outcome.err
    assert "absent' not found" in outcome.err


def test_the_repository_configs_are_valid(cli: RunCli) -> None:
    outcome = cli("validate", "--config-dir", str(REPO_CONFIGS))
    assert outcome.code == 0, outcome.err
    assert "fast_group_wrapper" in outcome.out
    assert "fast_pool_wrapper" in outcome.out


def test_config_dir_comes_from_the_environment_or_before_the_command(
    cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _valid_config(tmp_path / "llms")
    monkeypatch.setenv(CONFIG_DIR_ENV, str(directory))
    assert cli("validate").code == 0
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "absent"))
    assert cli("--config-dir", str(directory), "validate").code == 0


def test_a_yaml_syntax_error_fails_the_load(cli: RunCli, tmp_path: Path) -> None:
    directory = _valid_config(tmp_path / "llms")
    (directory / "groups" / "broken.yaml").write_text("name: [unclosed\n")
    outcome = cli("validate", "--config-dir", str(directory))
    assert outcome.code == 1
    assert "broken.yaml" in outcome.err
    assert outcome.out == ""


def test_unknown_options_are_usage_errors(cli: RunCli) -> None:
    with pytest.raises(SystemExit) as info:
        cli("validate", "--verbose")
    assert info.value.code == 2
