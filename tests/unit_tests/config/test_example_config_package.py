"""The example configuration as package data: its endpoint variables, the environment that
points it at given URLs, and `llm-wrappers init`, which copies it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infrastructure.llm.config import load_config_dir
from infrastructure.llm.example_config import (
    ENDPOINT_VARIABLES,
    EXAMPLE_CONFIG_DIR,
    copy_example_config,
    endpoint_environment,
)

from conftest import RunCli


def test_the_endpoint_variables_are_every_url_variable_of_the_registry() -> None:
    registry = (EXAMPLE_CONFIG_DIR / "models" / "registry.yaml").read_text()
    used = re.findall(r"^\s*(?:-\s*)?base_url: \$\{(\w+):-", registry, re.MULTILINE)
    assert sorted(used) == sorted(ENDPOINT_VARIABLES)


def test_urls_are_dealt_to_the_variables_in_turn() -> None:
    assert endpoint_environment(["http://a/v1"]) == dict.fromkeys(ENDPOINT_VARIABLES, "http://a/v1")
    dealt = endpoint_environment(["http://a/v1", "http://b/v1"])
    assert list(dealt.values()) == ["http://a/v1", "http://b/v1"] * 3
    with pytest.raises(ValueError, match="at least one URL"):
        endpoint_environment([])


def test_the_environment_points_every_networked_instance_at_the_urls() -> None:
    config = load_config_dir(EXAMPLE_CONFIG_DIR, env=endpoint_environment(["http://h:1/v1"]))
    urls = {
        instance.base_url
        for model in config.models.values()
        if model.provider != "mock"
        for instance in model.instances()
    }
    assert urls == {"http://h:1/v1"}


def test_copy_writes_the_annotated_files_and_refuses_a_directory_in_use(tmp_path: Path) -> None:
    destination = tmp_path / "configs" / "llms"
    written = copy_example_config(destination)
    assert [str(path) for path in written] == [
        "groups/fast_group.yaml",
        "groups/thinking_group.yaml",
        "models/registry.yaml",
        "polling_pools/fast_pool.yaml",
        "polling_pools/thinking_pool.yaml",
    ]
    registry = (destination / "models" / "registry.yaml").read_text()
    assert "Paid APIs are opt-in" in registry
    assert sorted(load_config_dir(destination, env={}).groups) == ["fast_group", "thinking_group"]
    with pytest.raises(FileExistsError, match="not an empty directory"):
        copy_example_config(destination)


def test_init_command_writes_the_directory_and_says_what_next(cli: RunCli, tmp_path: Path) -> None:
    destination = tmp_path / "mine"
    outcome = cli("init", str(destination))
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith(f"wrote {destination}:\n  groups/fast_group.yaml\n")
    assert f"llm-wrappers validate --config-dir {destination}" in outcome.out
    assert cli("validate", "--config-dir", str(destination)).code == 0


def test_init_into_a_directory_in_use_is_a_one_line_error(cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    outcome = cli("init", str(tmp_path))
    assert outcome.code == 1
    assert outcome.err == (
        f"error: {tmp_path} already exists and is not an empty directory; choose another DIR\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_init_defaults_to_the_config_dir_option(cli: RunCli, tmp_path: Path) -> None:
    outcome = cli("--config-dir", str(tmp_path / "given"), "init")
    assert outcome.code == 0, outcome.err
    assert (tmp_path / "given" / "models" / "registry.yaml").is_file()
