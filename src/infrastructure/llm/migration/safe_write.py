"""Write planned file changes so that each file is either as it was or wholly new.

Every write goes to a temporary file beside the target, is flushed to disk, and replaces the
target in one rename. If any change fails, the ones already made are undone, so a failed
migration leaves every file as it found it. A run killed mid-write can leave its temporary
file behind (`.<name>.<8 random characters>.tmp`); the next run removes those, and only those.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from infrastructure.llm.errors import MigrationError
from infrastructure.llm.migration.file_change import FileChange

BACKUP_DIR = ".migration-backups"
# The names `write_atomic` gives its temporary files: mkstemp's 8 random characters between
# `.<config file name>.` and `.tmp`. Nothing else may match: cleanup removes what does.
TEMPORARY_NAME = re.compile(r"\.[^/]+\.ya?ml\.[a-z0-9_]{8}\.tmp")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temporary file and a rename; keep its permissions."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def remove_leftover_temporaries(directories: Sequence[Path]) -> list[Path]:
    """Remove the temporary files an interrupted `write_atomic` left in `directories` (regular
    files named by TEMPORARY_NAME, nothing else); return them. Call it only while holding the
    migration lock: a running migration's temporary files are not leftovers."""
    removed: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if not TEMPORARY_NAME.fullmatch(entry.name):
                continue
            with suppress(FileNotFoundError):
                if not stat.S_ISREG(entry.lstat().st_mode):
                    continue
                entry.unlink()
                removed.append(entry)
    if removed:
        for directory in {path.parent for path in removed}:
            _sync_directory(directory)
    return removed


def move_aside(source: Path, destination: Path) -> None:
    """Rename `source` to `destination`, which must not exist yet."""
    if destination.exists():
        raise FileExistsError(f"{destination} already exists")
    os.replace(source, destination)
    _sync_directory(source.parent)


def back_up(paths: Sequence[Path], root: Path, stamp: str) -> Path:
    """Copy `paths` (inside `root`) to `<root>/.migration-backups/<stamp>/`, keeping their
    relative paths; check each copy; return the backup directory."""
    base = root / BACKUP_DIR / stamp
    suffix = 1
    while base.exists():
        suffix += 1
        base = root / BACKUP_DIR / f"{stamp}-{suffix}"
    for path in paths:
        copy = base / path.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        if copy.read_bytes() != path.read_bytes():
            raise MigrationError(f"backup copy {copy} differs from {path}; nothing was changed")
    return base


def apply_changes(changes: Sequence[FileChange], root: Path, backup: Path | None) -> None:
    """Make every change, or, if one fails, undo those made and raise MigrationError."""
    done: list[FileChange] = []
    current: FileChange | None = None
    try:
        for current in changes:
            if current.path.read_bytes() != current.before:
                raise MigrationError(
                    f"{current.path} changed while the migration was running; run it again"
                )
            if current.moved_to is not None:
                move_aside(current.path, current.moved_to)
            else:
                write_atomic(current.path, current.after or b"")
            done.append(current)
    except BaseException as error:
        where = current.path.relative_to(root) if current else root
        not_restored = _undo(done)
        raise MigrationError(_failure_message(where, error, done, not_restored, backup)) from error


def _undo(done: Sequence[FileChange]) -> list[str]:
    """Put changed files back as they were, last change first; the ones that could not be."""
    failures: list[str] = []
    for change in reversed(done):
        try:
            if change.moved_to is not None:
                move_aside(change.moved_to, change.path)
            else:
                write_atomic(change.path, change.before)
        except Exception as error:  # keep undoing the rest whatever went wrong here
            failures.append(f"{change.path} ({error or type(error).__name__})")
    return failures


def _failure_message(
    where: Path,
    error: BaseException,
    done: Sequence[FileChange],
    not_restored: Sequence[str],
    backup: Path | None,
) -> str:
    reason = str(error) or type(error).__name__
    message = f"migration stopped at {where}: {reason}. "
    if not_restored:
        message += f"Could not restore {', '.join(not_restored)}: "
        message += f"copy them back from {backup}." if backup else "they are partly migrated."
        return message
    restored = len(done)
    message += (
        f"The {restored} file(s) already changed were restored, so " if restored else "So "
    ) + "no file is changed"
    return message + (f"; the backup is in {backup}." if backup else ".")


def _sync_directory(directory: Path) -> None:
    """Flush a directory entry change (a rename) to disk where the platform allows it."""
    with suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
