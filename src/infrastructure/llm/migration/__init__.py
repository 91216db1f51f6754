"""Config migration: from one legacy global fallback to a fallback_config in every file."""

from __future__ import annotations

from infrastructure.llm.migration.file_change import FileChange
from infrastructure.llm.migration.lock import (
    MigrationInProgressError,
    MigrationLock,
    migration_lock,
)
from infrastructure.llm.migration.migrator import (
    ConfigMigrator,
    MigrationResult,
    MigrationValidation,
)

__all__ = [
    "ConfigMigrator",
    "FileChange",
    "MigrationInProgressError",
    "MigrationLock",
    "MigrationResult",
    "MigrationValidation",
    "migration_lock",
]
