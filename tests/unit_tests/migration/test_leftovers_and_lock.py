"""A migration cleans up after an interrupted one, and runs one at a time per directory.

Temporary files of `write_atomic` left by a killed run are removed by the next writing run
(only those: other files stay). A writing run holds `<dir>/.migration.lock`; a second one fails
at once with MigrationInProgressError, exit status 1 from the command. The lock here is taken
in-process, as another run would take it; integration_tests/migration/ has it held by a real
process that is then killed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.errors import MigrationError
from infrastructure.llm.migration import ConfigMigrator, MigrationInProgressError, safe_write
from infrastructure.llm.migration import migrator as migrator_module
from infrastructure.llm.migration.lock import LOCK_FILE, migration_lock

from conftest import RunCli, RunInProcess

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "data" / "legacy_configs"

LEFTOVERS = ("groups/.chat.yaml.k3x_9a0q.tmp", "polling_pools/.chat_pool.yaml.abcdefgh.tmp")
FOREIGN = (
    "groups/.chat.yaml.swp",  # an editor's
    "groups/notes.tmp",
    "groups/.chat.yaml.ABCDEFGH.tmp",  # mkstemp never uses capitals
    "groups/.chat.yaml.abc.tmp",  # nor fewer than 8 characters
    "groups/.chat.json.abcdefgh.tmp",  # nor writes anything but YAML files
    ".chat.yaml.abcdefgh.tmp",  # not in a directory migrations write to
)


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    """A fresh copy of the `global_chain` legacy example."""
    return Path(shutil.copytree(EXAMPLES / "global_chain", tmp_path / "llms"))


def lock_message(root: Path) -> str:
    return (
        f"another migration is running on {root} (lock {root / LOCK_FILE}); "
        "try again when it has finished"
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def plant(root: Path, names: tuple[str, ...]) -> None:
    for name in names:
        (root / name).write_bytes(b"partial: [")


# --- leftovers of an interrupted run --------------------------------------------------------


def test_write_atomic_names_its_temporary_files_as_cleanup_expects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(source: Any, destination: Any) -> None:
        seen.append(Path(source).name)
        real_replace(source, destination)

    monkeypatch.setattr(safe_write.os, "replace", spy)
    for name in ("chat.yaml", "pool.yml", "a.b.yaml"):
        safe_write.write_atomic(tmp_path / name, b"x: 1\n")
    assert len(seen) == 3
    for name in seen:
        assert safe_write.TEMPORARY_NAME.fullmatch(name), name


def test_a_run_removes_leftover_temporary_files_and_nothing_else(legacy_dir: Path) -> None:
    plant(legacy_dir, LEFTOVERS + FOREIGN)
    result = ConfigMigrator.from_config_dir(legacy_dir).migrate()
    assert result.written
    assert result.removed_leftovers == tuple(legacy_dir / name for name in LEFTOVERS)
    for name in LEFTOVERS:
        assert not (legacy_dir / name).exists()
    for name in FOREIGN:
        assert (legacy_dir / name).read_bytes() == b"partial: ["


def test_a_leftover_name_that_is_not_a_regular_file_stays(legacy_dir: Path) -> None:
    (legacy_dir / LEFTOVERS[0]).mkdir()
    (legacy_dir / LEFTOVERS[1]).symlink_to(legacy_dir / "groups" / "chat.yaml")
    result = ConfigMigrator.from_config_dir(legacy_dir).migrate()
    assert result.removed_leftovers == ()
    assert (legacy_dir / LEFTOVERS[0]).is_dir()
    assert (legacy_dir / LEFTOVERS[1]).is_symlink()


def test_leftovers_are_removed_when_there_is_nothing_left_to_migrate(
    cli: RunCli, legacy_dir: Path
) -> None:
    assert cli("migrate", "--config-dir", str(legacy_dir)).code == 0
    plant(legacy_dir, LEFTOVERS)
    outcome = cli("migrate", "--config-dir", str(legacy_dir))
    assert outcome.code == 0, outcome.err
    assert outcome.out.splitlines()[:2] == [
        f"  removed {name}: left behind by an interrupted migration" for name in LEFTOVERS
    ]
    assert "nothing to migrate" in outcome.out
    assert not any((legacy_dir / name).exists() for name in LEFTOVERS)


def test_a_dry_run_leaves_leftovers_alone(cli: RunCli, legacy_dir: Path) -> None:
    plant(legacy_dir, LEFTOVERS)
    before = snapshot(legacy_dir)
    outcome = cli("migrate", "--config-dir", str(legacy_dir), "--dry-run")
    assert outcome.code == 0, outcome.err
    assert "removed" not in outcome.out
    assert snapshot(legacy_dir) == before


# --- one run at a time ------------------------------------------------------------------------


def test_a_run_leaves_no_lock_file(legacy_dir: Path) -> None:
    ConfigMigrator.from_config_dir(legacy_dir).migrate()
    assert not (legacy_dir / LOCK_FILE).exists()


def test_a_second_run_fails_at_once_from_python(legacy_dir: Path) -> None:
    migrator = ConfigMigrator.from_config_dir(legacy_dir)
    plant(legacy_dir, LEFTOVERS)  # might be the running migration's own: left alone
    before = snapshot(legacy_dir)
    with migration_lock(legacy_dir), pytest.raises(MigrationInProgressError) as caught:
        migrator.migrate()
    assert isinstance(caught.value, MigrationError)
    assert str(caught.value) == lock_message(legacy_dir)
    assert snapshot(legacy_dir) == before


def test_each_entry_point_fails_while_another_run_holds_the_lock(legacy_dir: Path) -> None:
    migrator = ConfigMigrator.from_config_dir(legacy_dir)
    with migration_lock(legacy_dir):
        for migrate in (
            migrator.migrate_global_fallback_to_task_groups,
            migrator.migrate_polling_pools,
        ):
            with pytest.raises(MigrationInProgressError):
                migrate()


def test_a_second_run_from_the_command_exits_1_with_one_line(cli: RunCli, legacy_dir: Path) -> None:
    before = snapshot(legacy_dir)
    with migration_lock(legacy_dir):
        outcome = cli("migrate", "--config-dir", str(legacy_dir))
    assert outcome.code == 1
    assert outcome.err == f"error: {lock_message(legacy_dir)}\n"
    assert outcome.out == ""
    assert snapshot(legacy_dir) == before


def test_the_script_reports_the_lock_the_same_way(
    run_in_process: RunInProcess, legacy_dir: Path
) -> None:
    with migration_lock(legacy_dir):
        result = run_in_process(
            [str(REPO / "scripts" / "migrate_llm_config.py"), "--config-dir", str(legacy_dir)]
        )
    assert result.returncode == 1
    assert result.stderr.endswith(f"error: {lock_message(legacy_dir)}\n")


def test_checking_modes_take_no_lock(cli: RunCli, legacy_dir: Path) -> None:
    with migration_lock(legacy_dir):
        assert cli("migrate", "--config-dir", str(legacy_dir), "--dry-run").code == 0
        assert cli("migrate", "--config-dir", str(legacy_dir), "--validate-only").code == 1


def test_a_caller_holding_the_lock_passes_it_on(legacy_dir: Path, tmp_path: Path) -> None:
    with migration_lock(legacy_dir) as lock:
        migrator = ConfigMigrator.from_config_dir(legacy_dir)
        assert migrator.migrate_global_fallback_to_task_groups(lock=lock).written
        assert migrator.migrate_polling_pools(lock=lock).written
    assert (legacy_dir / "global_fallback.yaml.migrated").is_file()
    with pytest.raises(MigrationError, match="the migration lock passed is not held"):
        migrator.migrate(lock=lock)  # released
    (tmp_path / "other").mkdir()
    with migration_lock(tmp_path / "other") as other, pytest.raises(MigrationError):
        migrator.migrate(lock=other)


def test_the_lock_is_free_again_after_a_run(legacy_dir: Path) -> None:
    ConfigMigrator.from_config_dir(legacy_dir).migrate()
    with migration_lock(legacy_dir):
        pass


def test_a_failed_run_releases_the_lock(legacy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise MigrationError("injected failure while writing")

    monkeypatch.setattr(migrator_module, "apply_changes", fail)
    with pytest.raises(MigrationError, match="injected"):
        ConfigMigrator.from_config_dir(legacy_dir).migrate()
    monkeypatch.undo()
    assert not (legacy_dir / LOCK_FILE).exists()
    assert ConfigMigrator.from_config_dir(legacy_dir).migrate().written


def test_a_lock_file_left_by_a_killed_run_does_not_block(legacy_dir: Path) -> None:
    """A killed run's kernel lock is gone with it; only the empty file stays."""
    (legacy_dir / LOCK_FILE).touch()
    assert ConfigMigrator.from_config_dir(legacy_dir).migrate().written
    assert not (legacy_dir / LOCK_FILE).exists()


def test_the_lock_file_is_not_taken_for_config(legacy_dir: Path) -> None:
    (legacy_dir / LOCK_FILE).touch()
    assert ConfigMigrator.from_config_dir(legacy_dir).validate_migration().issues == ()
