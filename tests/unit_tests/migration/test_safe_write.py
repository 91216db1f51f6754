"""Atomic writes, backups and all-or-nothing application of planned file changes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.errors import MigrationError
from infrastructure.llm.migration.file_change import FileChange
from infrastructure.llm.migration.safe_write import (
    BACKUP_DIR,
    apply_changes,
    back_up,
    move_aside,
    write_atomic,
)

REPLACE = "infrastructure.llm.migration.safe_write.os.replace"
REAL_REPLACE = os.replace

Replace = Callable[[str | os.PathLike[str], str | os.PathLike[str]], None]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


def failing_replace(*failing_calls: int, log: list[Path] | None = None) -> Replace:
    """os.replace that raises OSError on the given (1-based) calls and records destinations."""
    calls = 0

    def replace(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls in failing_calls:
            raise OSError(f"disk full on call {calls}")
        if log is not None:
            log.append(Path(destination))
        REAL_REPLACE(source, destination)

    return replace


# write_atomic


def test_write_atomic_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = write(tmp_path / "chat.yaml", b"old\n")
    target.chmod(0o640)

    write_atomic(target, b"new\n")

    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert temp_files(tmp_path) == []


def test_write_atomic_failure_leaves_original_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write(tmp_path / "chat.yaml", b"old\n")
    monkeypatch.setattr(REPLACE, failing_replace(1))

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new\n")

    assert target.read_bytes() == b"old\n"
    assert temp_files(tmp_path) == []


# move_aside


def test_move_aside_refuses_existing_destination(tmp_path: Path) -> None:
    source = write(tmp_path / "a.yaml", b"a")
    taken = write(tmp_path / "a.yaml.old", b"keep")

    with pytest.raises(FileExistsError):
        move_aside(source, taken)

    assert source.read_bytes() == b"a"
    assert taken.read_bytes() == b"keep"


def test_move_aside_moves(tmp_path: Path) -> None:
    source = write(tmp_path / "a.yaml", b"a")
    destination = tmp_path / "a.yaml.old"

    move_aside(source, destination)

    assert not source.exists()
    assert destination.read_bytes() == b"a"


# back_up


def test_back_up_keeps_relative_paths_and_contents(tmp_path: Path) -> None:
    top = write(tmp_path / "global_fallback.yaml", b"chain: [a]\n")
    nested = write(tmp_path / "groups" / "chat.yaml", b"name: chat\n")

    backup = back_up([top, nested], tmp_path, "20240101")

    assert backup == tmp_path / BACKUP_DIR / "20240101"
    assert (backup / "global_fallback.yaml").read_bytes() == top.read_bytes()
    assert (backup / "groups" / "chat.yaml").read_bytes() == nested.read_bytes()


def test_back_up_with_same_stamp_gets_a_new_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", b"first")
    first = back_up([path], tmp_path, "stamp")
    path.write_bytes(b"second")

    second = back_up([path], tmp_path, "stamp")

    assert second == tmp_path / BACKUP_DIR / "stamp-2"
    assert (first / "a.yaml").read_bytes() == b"first"
    assert (second / "a.yaml").read_bytes() == b"second"


# apply_changes


def rewrite(path: Path, after: bytes) -> FileChange:
    return FileChange(path=path, before=path.read_bytes(), after=after, reason="add fallback")


def rename(path: Path) -> FileChange:
    moved_to = path.with_name(path.name + ".old")
    return FileChange(path=path, before=path.read_bytes(), moved_to=moved_to, reason="legacy")


def test_apply_changes_applies_all_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = write(tmp_path / "groups" / "chat.yaml", b"name: chat\n")
    legacy = write(tmp_path / "global_fallback.yaml", b"chain: [a]\n")
    log: list[Path] = []
    monkeypatch.setattr(REPLACE, failing_replace(log=log))

    apply_changes([rewrite(group, b"name: chat\nfallback: {}\n"), rename(legacy)], tmp_path, None)

    assert group.read_bytes() == b"name: chat\nfallback: {}\n"
    assert not legacy.exists()
    assert (tmp_path / "global_fallback.yaml.old").read_bytes() == b"chain: [a]\n"
    assert log == [group, tmp_path / "global_fallback.yaml.old"]


def test_apply_changes_restores_earlier_changes_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = write(tmp_path / "global_fallback.yaml", b"chain: [a]\n")
    group = write(tmp_path / "groups" / "chat.yaml", b"name: chat\n")
    monkeypatch.setattr(REPLACE, failing_replace(2))

    with pytest.raises(MigrationError) as info:
        apply_changes([rename(legacy), rewrite(group, b"changed\n")], tmp_path, None)

    message = str(info.value)
    assert "restored" in message
    assert str(Path("groups") / "chat.yaml") in message
    assert "disk full" in message
    assert legacy.read_bytes() == b"chain: [a]\n"
    assert not (tmp_path / "global_fallback.yaml.old").exists()
    assert group.read_bytes() == b"name: chat\n"
    assert temp_files(group.parent) == []


def test_apply_changes_writes_nothing_if_a_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = write(tmp_path / "a.yaml", b"a: 1\n")
    other = write(tmp_path / "b.yaml", b"b: 1\n")
    change = rewrite(stale, b"a: 2\n")
    stale.write_bytes(b"a: edited\n")
    log: list[Path] = []
    monkeypatch.setattr(REPLACE, failing_replace(log=log))

    with pytest.raises(MigrationError, match="changed while the migration was running"):
        apply_changes([change, rewrite(other, b"b: 2\n")], tmp_path, None)

    assert log == []
    assert stale.read_bytes() == b"a: edited\n"
    assert other.read_bytes() == b"b: 1\n"


def test_apply_changes_reports_files_it_could_not_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(tmp_path / "a.yaml", b"a: 1\n")
    second = write(tmp_path / "b.yaml", b"b: 1\n")
    backup = tmp_path / BACKUP_DIR / "stamp"
    monkeypatch.setattr(REPLACE, failing_replace(2, 3))

    with pytest.raises(MigrationError) as info:
        apply_changes([rewrite(first, b"a: 2\n"), rewrite(second, b"b: 2\n")], tmp_path, backup)

    message = str(info.value)
    assert f"Could not restore {first}" in message
    assert str(backup) in message
    assert second.read_bytes() == b"b: 1\n"


# FileChange


def test_rename_describe_and_diff(tmp_path: Path) -> None:
    change = rename(write(tmp_path / "a", b"x"))

    assert change.describe(tmp_path) == "a: renamed to a.old (legacy)"
    assert change.diff(tmp_path) == "rename a -> a.old\n"


def test_rewrite_diff_is_unified_with_relative_names(tmp_path: Path) -> None:
    path = write(tmp_path / "groups" / "chat.yaml", b"name: chat\n")
    change = rewrite(path, b"name: chat\n\nfallback:\n  timeout: 3\n")

    diff = change.diff(tmp_path).splitlines()

    assert change.describe(tmp_path) == "groups/chat.yaml: add fallback"
    assert diff[:2] == ["--- a/groups/chat.yaml", "+++ b/groups/chat.yaml"]
    assert diff[2].startswith("@@")
    assert diff[3:] == [" name: chat", "+", "+fallback:", "+  timeout: 3"]
