"""ConfigMigrator: move a legacy global fallback into each task group and polling pool file.

A migration is planned in full before anything is written: each file lacking a
`fallback_config` gets the one it inherits today appended to it, the result is loaded with the
normal loader in a scratch copy and must route every call as before, and only then are the
files backed up and written, all or none. A writing run holds the directory's migration lock
from start to end (a second one fails at once) and first removes the temporary files an
interrupted run left behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from infrastructure.llm.config import LLMConfig, load_config_dir, load_config_files
from infrastructure.llm.config.legacy_fallback import legacy_fallback_files
from infrastructure.llm.config.loader import GROUPS_DIR, POOLS_DIR, config_dir_files
from infrastructure.llm.errors import ConfigError, ConfigIssue, MigrationError
from infrastructure.llm.fleet.task_group_manager import TaskGroupManager
from infrastructure.llm.migration.config_files import (
    FALLBACK_KEY,
    ConfigFile,
    FileKind,
    scan_config_files,
)
from infrastructure.llm.migration.file_change import FileChange
from infrastructure.llm.migration.lock import MigrationLock, migration_lock
from infrastructure.llm.migration.routing_check import route_differences
from infrastructure.llm.migration.safe_write import (
    apply_changes,
    back_up,
    remove_leftover_temporaries,
)
from infrastructure.llm.migration.yaml_block import BlockConflict, append_top_level_key

ALL_KINDS: tuple[FileKind, ...] = ("group", "pool")
RETIRED_SUFFIX = ".migrated"


@dataclass(frozen=True)
class MigrationResult:
    """What a migration changed (or, for a dry run, would change)."""

    config_dir: Path
    changes: tuple[FileChange, ...]
    routes_checked: int
    backup_dir: Path | None = None
    written: bool = False
    notes: tuple[str, ...] = ()
    kept: tuple[Path, ...] = ()
    # Temporary files of an interrupted earlier run, removed before this one started.
    removed_leftovers: tuple[Path, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class MigrationValidation:
    """Whether a config directory is valid, fully migrated, and routes as it did before."""

    issues: tuple[ConfigIssue, ...]
    pending: tuple[str, ...]
    routes_checked: int

    @property
    def valid(self) -> bool:
        return not self.issues and not self.pending


class ConfigMigrator:
    """Migrates the config directory `task_group_manager` was loaded from.

    The manager's configuration is the routing to keep: `validate_migration()` checks the
    directory against it.
    """

    def __init__(
        self,
        task_group_manager: TaskGroupManager,
        *,
        backup: bool = True,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        source = task_group_manager.config.source_dir
        if source is None:
            raise MigrationError(
                "the task group manager's configuration was not loaded from a directory; "
                "use ConfigMigrator.from_config_dir(path)"
            )
        self.task_group_manager = task_group_manager
        self.config_dir = Path(source)
        self.backup = backup
        self._now = now

    @classmethod
    def from_config_dir(cls, path: str | Path, **kwargs: Any) -> ConfigMigrator:
        """Load `path` (raising ConfigError on bad input) and migrate it."""
        return cls(TaskGroupManager.from_config_dir(path), **kwargs)

    def migrate_global_fallback_to_task_groups(
        self, *, dry_run: bool = False, lock: MigrationLock | None = None
    ) -> MigrationResult:
        """Write each task group's inherited fallback into its own file."""
        return self.migrate(("group",), dry_run=dry_run, lock=lock)

    def migrate_polling_pools(
        self, *, dry_run: bool = False, lock: MigrationLock | None = None
    ) -> MigrationResult:
        """Write each polling pool's inherited fallback into its own file."""
        return self.migrate(("pool",), dry_run=dry_run, lock=lock)

    def migrate(
        self,
        kinds: Collection[FileKind] = ALL_KINDS,
        *,
        dry_run: bool = False,
        lock: MigrationLock | None = None,
    ) -> MigrationResult:
        """Migrate the files of `kinds`; the legacy file is renamed once nothing inherits from it.

        Raises ConfigError (naming file and field) if the directory or the migrated result is
        invalid or would route differently, and MigrationError if writing fails; in both cases
        every file is left as it was. Unless `dry_run`, the run holds the directory's migration
        lock throughout (`lock`, if the caller already holds it from `migration_lock`), and
        raises MigrationInProgressError (a MigrationError) at once, having done nothing, if
        another run holds it. It first removes the temporary files an interrupted run left.
        """
        if dry_run:
            return self._migrate(kinds, dry_run=True)
        with self._locked(lock):
            removed = remove_leftover_temporaries(
                [self.config_dir / GROUPS_DIR, self.config_dir / POOLS_DIR]
            )
            result = self._migrate(kinds, dry_run=False)
        return replace(result, removed_leftovers=tuple(removed))

    @contextmanager
    def _locked(self, lock: MigrationLock | None) -> Iterator[None]:
        """Hold the migration lock for the block: the caller's, or a new one."""
        if lock is None:
            with migration_lock(self.config_dir):
                yield
            return
        if not lock.guards(self.config_dir):
            raise MigrationError(
                f"the migration lock passed is not held for {self.config_dir} ({lock.path})"
            )
        yield

    def _migrate(self, kinds: Collection[FileKind], *, dry_run: bool) -> MigrationResult:
        before = load_config_dir(self.config_dir)
        files = scan_config_files(self.config_dir)
        changes = self._plan(before, files, kinds)
        notes = self._notes(changes)
        kept = tuple(file.path for file in files if file.kind in kinds and file.has_fallback)
        if not changes:
            return MigrationResult(self.config_dir, (), 0, notes=notes, kept=kept)
        routes_checked = self._check_staged(before, files, changes)
        if dry_run:
            return MigrationResult(
                self.config_dir, tuple(changes), routes_checked, notes=notes, kept=kept
            )
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        backup = (
            back_up([change.path for change in changes], self.config_dir, stamp)
            if self.backup
            else None
        )
        apply_changes(changes, self.config_dir, backup)
        return MigrationResult(
            self.config_dir,
            tuple(changes),
            routes_checked,
            backup,
            written=True,
            notes=notes,
            kept=kept,
        )

    def validate_migration(self) -> MigrationValidation:
        """Check that the directory loads, that no file relies on the legacy layout any more,
        and that every call routes as the manager's configuration says."""
        try:
            current = load_config_dir(self.config_dir)
        except ConfigError as error:
            return MigrationValidation(tuple(error.issues), (), 0)
        files = scan_config_files(self.config_dir)
        pending = [
            f"{path.relative_to(self.config_dir)}: legacy global fallback still in place"
            for path in legacy_fallback_files(self.config_dir)
        ]
        pending.extend(
            f"{file.relative(self.config_dir)}: no {FALLBACK_KEY} of its own yet"
            for file in files
            if not file.has_fallback
        )
        issues, compared = route_differences(
            self.task_group_manager.config, current, self._file_names(files)
        )
        return MigrationValidation(tuple(issues), tuple(pending), compared)

    def _plan(
        self, before: LLMConfig, files: list[ConfigFile], kinds: Collection[FileKind]
    ) -> list[FileChange]:
        """Every change of the migration, legacy file last; ConfigError if a file cannot
        take its block."""
        legacy = legacy_fallback_files(self.config_dir)
        source = legacy[0].name if legacy else None
        changes: list[FileChange] = []
        issues: list[ConfigIssue] = []
        for file in files:
            if file.kind not in kinds or file.has_fallback:
                continue
            value = _fallback_of(before, file)
            try:
                after = append_top_level_key(
                    file.raw, str(file.path), FALLBACK_KEY, value, _comment(file, source)
                )
            except BlockConflict as conflict:
                issues.append(conflict.issue)
                continue
            reason = f"{FALLBACK_KEY} added ({_origin(source)})"
            changes.append(FileChange(file.path, file.raw, after, reason=reason))
        if issues:
            raise ConfigError(issues)
        still_inheriting = [f for f in files if not f.has_fallback and f.kind not in kinds]
        if legacy and not still_inheriting:
            changes.append(
                FileChange(
                    legacy[0],
                    legacy[0].read_bytes(),
                    moved_to=self._retired_path(legacy[0]),
                    reason="every group and pool now has its own fallback_config",
                )
            )
        return changes

    def _check_staged(
        self, before: LLMConfig, files: list[ConfigFile], changes: list[FileChange]
    ) -> int:
        """Load the migrated directory from a scratch copy; raise ConfigError if it is invalid
        or routes any call differently. Return the number of routes compared."""
        root = self.config_dir
        with tempfile.TemporaryDirectory(prefix="llm-migrate-") as scratch:
            stage = Path(scratch)
            for path in [p for paths in config_dir_files(root).values() for p in paths]:
                copy = stage / path.relative_to(root)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
            for change in changes:
                staged = stage / change.path.relative_to(root)
                if change.moved_to is not None:
                    staged.unlink()
                else:
                    staged.write_bytes(change.after or b"")
            try:
                after = load_config_files(**config_dir_files(stage), source_dir=root)
            except ConfigError as error:
                raise ConfigError(
                    [_unstaged(issue, stage, root) for issue in error.issues]
                ) from None
        issues, compared = route_differences(before, after, self._file_names(files))
        if issues:
            raise ConfigError(issues)
        return compared

    def _file_names(self, files: list[ConfigFile]) -> dict[str, str]:
        return {file.name: str(file.path) for file in files}

    def _retired_path(self, legacy: Path) -> Path:
        """Where the legacy file goes: `<name>.migrated`, stamped if that is taken."""
        retired = legacy.with_name(legacy.name + RETIRED_SUFFIX)
        if retired.exists():
            stamp = self._now().strftime("%Y%m%d-%H%M%S")
            retired = legacy.with_name(f"{legacy.name}{RETIRED_SUFFIX}-{stamp}")
        return retired

    def _notes(self, changes: list[FileChange]) -> tuple[str, ...]:
        """Things the user should know about the migration, such as placeholders it resolved."""
        if not changes:
            return ()
        return tuple(
            f"{path.name} uses ${{VAR}} placeholders; the migrated files hold the values they "
            "have in this environment"
            for path in legacy_fallback_files(self.config_dir)
            if "${" in path.read_text(encoding="utf-8")
        )


def _fallback_of(config: LLMConfig, file: ConfigFile) -> dict[str, Any]:
    """The fallback settings the group or pool uses today, every field spelled out."""
    if file.kind == "group":
        fallback = config.groups[file.name].fallback_config
    else:
        fallback = config.pools[file.name].fallback_config
    return fallback.model_dump(mode="json", exclude_none=True)


def _origin(source: str | None) -> str:
    return f"from {source}" if source else "the defaults, made explicit"


def _comment(file: ConfigFile, source: str | None) -> list[str]:
    """The comment above an added block: where its settings came from."""
    if source:
        return [
            f"Fallback, written by `llm-wrappers migrate` from {source}, the legacy fallback",
            f"for every {file.kind}. This {file.kind} no longer inherits it: change it here.",
        ]
    return [
        f"Fallback, written by `llm-wrappers migrate`: the defaults this {file.kind} used",
        "without a fallback_config of its own, now spelled out. Change it here.",
    ]


def _unstaged(issue: ConfigIssue, stage: Path, root: Path) -> ConfigIssue:
    """The issue with scratch-copy paths replaced by the real ones."""
    return ConfigIssue(
        issue.file.replace(str(stage), str(root)),
        issue.path,
        issue.message.replace(str(stage), str(root)),
    )
