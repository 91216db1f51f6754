"""A migration that fails part way leaves every file as it was (or, if it could not undo,
says where the backup is); --validate-only and --dry-run never write."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.cli.app import main
from infrastructure.llm.errors import MigrationError
from infrastructure.llm.migration import ConfigMigrator, safe_write
from infrastructure.llm.migration import migrator as migrator_module

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "legacy_configs"
MIGRATED_FILES = 6  # global_chain: four groups, one pool, the legacy file renamed


def copy_example(tmp_path: Path, name: str = "global_chain") -> Path:
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` except backups, by relative path."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and safe_write.BACKUP_DIR not in path.parts
    }


def fail_on_call(
    monkeypatch: pytest.MonkeyPatch, name: str, failing_call: int
) -> Callable[[], int]:
    """Make `safe_write.os.<name>` raise OSError on its `failing_call`-th call; return a
    function giving the number of calls so far."""
    real = getattr(os, name)
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise OSError(f"injected failure in os.{name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(safe_write.os, name, wrapper)
    return lambda: calls


def refuse_to_write(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a checking mode tried to write")


def backups(root: Path) -> list[Path]:
    return sorted((root / safe_write.BACKUP_DIR).iterdir())


@pytest.mark.parametrize(
    ("operation", "failing_call"),
    [
        pytest.param("fsync", 3, id="while-writing-the-second-file"),
        pytest.param("replace", 2, id="while-replacing-the-second-file"),
        pytest.param("replace", MIGRATED_FILES, id="while-renaming-the-legacy-file"),
    ],
)
def test_a_failure_midway_restores_every_file_and_keeps_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, failing_call: int
) -> None:
    root = copy_example(tmp_path)
    before = snapshot(root)
    migrator = ConfigMigrator.from_config_dir(root)
    fail_on_call(monkeypatch, operation, failing_call)
    with pytest.raises(MigrationError, match="injected failure") as raised:
        migrator.migrate()
    assert "no file is changed" in str(raised.value)
    assert snapshot(root) == before
    [backup] = backups(root)
    assert str(backup) in str(raised.value)
    copies = {str(p.relative_to(backup)): p.read_bytes() for p in backup.rglob("*") if p.is_file()}
    assert len(copies) == MIGRATED_FILES
    assert all(before[name] == content for name, content in copies.items())
    assert not list(root.rglob("*.tmp")), "a temporary file was left behind"


def test_the_migration_succeeds_when_run_again_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path)
    with monkeypatch.context() as patch:
        fail_on_call(patch, "replace", 2)
        with pytest.raises(MigrationError):
            ConfigMigrator.from_config_dir(root).migrate()
    result = ConfigMigrator.from_config_dir(root).migrate()
    assert len(result.changes) == MIGRATED_FILES
    assert ConfigMigrator.from_config_dir(root).validate_migration().valid


def test_when_undoing_fails_too_the_error_points_at_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path)
    migrator = ConfigMigrator.from_config_dir(root)
    real_replace = os.replace
    calls = 0

    def replace_then_break(source: Any, destination: Any) -> None:
        nonlocal calls
        calls += 1
        if calls >= 2:  # the second file fails, and so does putting the first one back
            raise OSError("disk gone")
        real_replace(source, destination)

    monkeypatch.setattr(safe_write.os, "replace", replace_then_break)
    with pytest.raises(MigrationError) as raised:
        migrator.migrate()
    message = str(raised.value)
    [backup] = backups(root)
    assert f"stopped at {Path('groups', 'chat.yaml')}" in message
    assert f"Could not restore {root / 'groups' / 'backup.yaml'} (disk gone)" in message
    assert str(backup) in message
    assert (backup / "groups" / "backup.yaml").read_bytes() == (
        EXAMPLES / "global_chain" / "groups" / "backup.yaml"
    ).read_bytes()


def test_the_cli_reports_a_write_failure_with_exit_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_example(tmp_path)
    before = snapshot(root)
    fail_on_call(monkeypatch, "replace", 2)
    assert main(["migrate", "--config-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "injected failure" in err and "no file is changed" in err
    assert snapshot(root) == before


def test_without_backup_a_failure_still_restores_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path)
    before = snapshot(root)
    migrator = ConfigMigrator.from_config_dir(root, backup=False)
    fail_on_call(monkeypatch, "replace", 3)
    with pytest.raises(MigrationError, match="no file is changed"):
        migrator.migrate()
    assert snapshot(root) == before
    assert not (root / safe_write.BACKUP_DIR).exists()


@pytest.mark.parametrize("example", ["global_chain", "group_switch", "defaults_only"])
@pytest.mark.parametrize("option", ["--validate-only", "--dry-run"])
def test_checking_modes_never_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    example: str,
    option: str,
) -> None:
    root = copy_example(tmp_path, example)
    before = snapshot(root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    for name in ("apply_changes", "back_up"):  # any attempt to write would raise
        monkeypatch.setattr(migrator_module, name, refuse_to_write)
    status = main(["migrate", "--config-dir", str(root), option])
    # --validate-only: the legacy layout is valid but not migrated yet (1); --dry-run: the
    # migration would succeed (0).
    assert status == (1 if option == "--validate-only" else 0)
    assert snapshot(root) == before
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes
    assert not (root / safe_write.BACKUP_DIR).exists()
    out = capsys.readouterr().out
    assert ("not migrated yet" if option == "--validate-only" else "nothing was written") in out
