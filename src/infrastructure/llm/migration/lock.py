"""One migration at a time per config directory: an exclusive lock on `<dir>/.migration.lock`.

The lock is an `flock` on that file (POSIX), so the kernel releases it when its holder exits
or is killed: a crashed run never blocks the next one. A run that cannot take it at once
fails with MigrationInProgressError instead of waiting. The file is removed when the run
ends; one left by a killed run is empty and harmless (the next run takes it over and removes
it). It is no config file (the loader reads only `models/`, `groups/`, `polling_pools/` and
`global_fallback.yaml`), and can be ignored in git like `.migration-backups/`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from infrastructure.llm.errors import MigrationError

LOCK_FILE = ".migration.lock"
# Attempts to lock the file at the path, when another run keeps removing it under us.
_ATTEMPTS = 100


class MigrationInProgressError(MigrationError):
    """Another migration holds the lock of the config directory."""

    def __init__(self, config_dir: Path, lock: Path) -> None:
        self.config_dir = config_dir
        self.lock = lock
        super().__init__(
            f"another migration is running on {config_dir} (lock {lock}); "
            "try again when it has finished"
        )


class MigrationLock:
    """The migration lock of one config directory, held by this process while `held`."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.path = config_dir / LOCK_FILE
        self.held = False

    def guards(self, config_dir: Path) -> bool:
        """Whether this lock is held, and for `config_dir`."""
        return self.held and self.config_dir.resolve() == config_dir.resolve()


@contextmanager
def migration_lock(config_dir: Path) -> Iterator[MigrationLock]:
    """Hold the migration lock of `config_dir` for the block.

    Raises MigrationInProgressError at once if another run holds it, even one in this process:
    to do several things under one lock, pass the lock yielded here on
    (`ConfigMigrator.migrate(lock=...)`).
    """
    lock = MigrationLock(config_dir)
    descriptor = _acquire(config_dir, lock.path)
    lock.held = True
    try:
        yield lock
    finally:
        lock.held = False
        _release(descriptor, lock.path)


if sys.platform != "win32":
    import fcntl

    def _acquire(config_dir: Path, path: Path) -> int:
        """Lock the file now at `path`, creating it if needed; return its descriptor.

        A finishing run removes the file while it still holds the lock. Whoever opened the
        file before that and locks it afterwards holds a lock nobody else can see, so the
        lock counts only if the path still names the very file locked; if not, try again.
        """
        for _ in range(_ATTEMPTS):
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise MigrationInProgressError(config_dir, path) from None
            except BaseException:
                os.close(descriptor)
                raise
            if _same_file(descriptor, path):
                return descriptor
            os.close(descriptor)
        raise MigrationInProgressError(config_dir, path)

    def _release(descriptor: int, path: Path) -> None:
        """Remove the lock file, then unlock it (closing it does both the kernel's way)."""
        try:
            with suppress(FileNotFoundError):
                os.unlink(path)
        finally:
            os.close(descriptor)

else:  # pragma: no cover - Windows: the byte-range lock msvcrt offers, also freed on exit
    import msvcrt

    def _acquire(config_dir: Path, path: Path) -> int:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(descriptor)
            raise MigrationInProgressError(config_dir, path) from None
        return descriptor

    def _release(descriptor: int, path: Path) -> None:
        # An open file cannot be removed on Windows: the empty file stays, harmless.
        try:
            os.lseek(descriptor, 0, os.SEEK_SET)
            msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(descriptor)


def _same_file(descriptor: int, path: Path) -> bool:
    """Whether `path` still names the file open as `descriptor`."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino)
