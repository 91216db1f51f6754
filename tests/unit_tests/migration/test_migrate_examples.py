"""Each example legacy config migrates into one the normal loader reads with the routing the
legacy layout meant: the same targets tried in the same order. A second run changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infrastructure.llm import load_config_dir
from infrastructure.llm.migration import ConfigMigrator
from infrastructure.llm.migration.routing_check import routes

from legacy_examples import EXPECTED_POOLS, EXPECTED_ROUTES

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "legacy_configs"


def copy_example(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def route_orders(root: Path) -> dict[str, list[str]]:
    return {
        start: list(route.targets)
        for starts in routes(load_config_dir(root)).values()
        for start, route in starts.items()
    }


def pool_settings(root: Path) -> dict[str, tuple[str, int]]:
    pools = load_config_dir(root).pools
    return {
        name: (pool.fallback_config.strategy, pool.fallback_config.max_instance_attempts)
        for name, pool in pools.items()
    }


@pytest.mark.parametrize("example", sorted(EXPECTED_ROUTES))
def test_the_legacy_layout_loads_with_its_intended_routing(example: str, tmp_path: Path) -> None:
    root = copy_example(example, tmp_path)
    assert route_orders(root) == EXPECTED_ROUTES[example]
    assert pool_settings(root) == EXPECTED_POOLS[example]


@pytest.mark.parametrize("example", sorted(EXPECTED_ROUTES))
def test_the_migrated_config_routes_as_the_legacy_one_meant(example: str, tmp_path: Path) -> None:
    root = copy_example(example, tmp_path)
    result = ConfigMigrator.from_config_dir(root).migrate()
    assert result.written and result.changed
    assert not (root / "global_fallback.yaml").exists()
    for path in [*root.glob("groups/*.y*ml"), *root.glob("polling_pools/*.y*ml")]:
        assert "fallback_config" in yaml.safe_load(path.read_text()), path
    assert route_orders(root) == EXPECTED_ROUTES[example]
    assert pool_settings(root) == EXPECTED_POOLS[example]


@pytest.mark.parametrize("example", sorted(EXPECTED_ROUTES))
def test_untouched_parts_of_every_file_survive_byte_for_byte(example: str, tmp_path: Path) -> None:
    root = copy_example(example, tmp_path)
    before = snapshot(root)
    ConfigMigrator.from_config_dir(root).migrate()
    after = snapshot(root)
    for name, old in before.items():
        if name in after and after[name] != old:
            old_data, new_data = yaml.safe_load(old), yaml.safe_load(after[name])
            assert list(new_data) == [*old_data, "fallback_config"], name
            kept = old.split(b"\n...")[0]
            assert after[name].startswith(kept), f"{name}: existing text changed"
    if example != "defaults_only":
        retired = after["global_fallback.yaml.migrated"]
        assert retired == before["global_fallback.yaml"]


def test_files_that_already_have_their_own_fallback_are_left_alone(tmp_path: Path) -> None:
    root = copy_example("group_switch", tmp_path)
    before = snapshot(root)
    ConfigMigrator.from_config_dir(root).migrate()
    after = snapshot(root)
    assert after["groups/special.yaml"] == before["groups/special.yaml"]
    assert after["polling_pools/primary_pool.yaml"] == before["polling_pools/primary_pool.yaml"]
    assert after["models/registry.yaml"] == before["models/registry.yaml"]


@pytest.mark.parametrize("example", sorted(EXPECTED_ROUTES))
def test_a_second_run_changes_nothing_and_says_so(example: str, tmp_path: Path) -> None:
    root = copy_example(example, tmp_path)
    ConfigMigrator.from_config_dir(root).migrate()
    migrated = snapshot(root)
    again = ConfigMigrator.from_config_dir(root).migrate()
    assert not again.changed and not again.written and again.backup_dir is None
    assert snapshot(root) == migrated
    assert ConfigMigrator.from_config_dir(root).validate_migration().valid


def test_groups_and_pools_can_be_migrated_in_two_steps(tmp_path: Path) -> None:
    root = copy_example("global_chain", tmp_path)
    migrator = ConfigMigrator.from_config_dir(root)
    groups_step = migrator.migrate_global_fallback_to_task_groups()
    changed = {change.path.name for change in groups_step.changes}
    assert changed == {"chat.yaml", "summarize.yaml", "backup.yaml", "last_resort.yaml"}
    # The pool still inherits from the legacy file, so it stays, and routing is unchanged.
    assert (root / "global_fallback.yaml").exists()
    assert set(migrator.validate_migration().pending) == {
        "global_fallback.yaml: legacy global fallback still in place",
        "polling_pools/chat_pool.yaml: no fallback_config of its own yet",
    }
    assert route_orders(root) == EXPECTED_ROUTES["global_chain"]
    pools_step = migrator.migrate_polling_pools()
    assert [change.path.name for change in pools_step.changes] == [
        "chat_pool.yaml",
        "global_fallback.yaml",
    ]
    validation = migrator.validate_migration()
    assert validation.valid and validation.routes_checked == 8


def test_the_python_example_in_the_migration_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/migration.md's "From Python" block, run on a legacy copy at configs/llms."""
    guide = (Path(__file__).parents[3] / "docs" / "migration.md").read_text()
    block = guide.split("### From Python\n\n```python\n")[1].split("```")[0]
    root = Path(shutil.copytree(EXAMPLES / "global_chain", tmp_path / "configs" / "llms"))
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/migration.md", "exec"), {})
    assert not (root / "global_fallback.yaml").exists()
    assert route_orders(root) == EXPECTED_ROUTES["global_chain"]
