"""`llm-wrappers migrate` (also `scripts/migrate_llm_config.py`): move a legacy global fallback
into each group and pool file, with a backup, atomically, or show or check what it would do."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from infrastructure.llm.cli.common import (
    Subparsers,
    config_dir,
    config_dir_option,
    print_config_error,
)
from infrastructure.llm.config import loader
from infrastructure.llm.errors import ConfigError, MigrationError
from infrastructure.llm.migration import (
    ConfigMigrator,
    MigrationInProgressError,
    MigrationLock,
    MigrationResult,
    MigrationValidation,
    migration_lock,
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_ERROR = 2


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "migrate",
        parents=[config_dir_option()],
        description="Give every task group and polling pool without a fallback_config the one "
        "it inherits from the legacy global_fallback.yaml (or the defaults), then rename that "
        "file to global_fallback.yaml.migrated. Nothing is written unless the result loads "
        "and routes every call as before; files are backed up first and written atomically, "
        "all or none, by one run at a time (a lock file, .migration.lock, while it runs). "
        "Exit status: 0 success (or nothing to do), 1 invalid configuration, not yet migrated "
        "(--validate-only) or another migration running, 2 error while writing (files "
        "restored).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run", action="store_true", help="print the diff of every change; write nothing"
    )
    mode.add_argument(
        "--validate-only",
        action="store_true",
        help="check that the directory is valid and fully migrated; write nothing",
    )
    parser.add_argument(
        "--no-backup",
        action="store_true",
        help="do not copy the files to .migration-backups/<timestamp>/ first",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print each diff and each file left alone"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The loader's "legacy file found, run migrate" warning is what this command answers.
    loader_log = logging.getLogger(loader.__name__)
    level = loader_log.level
    loader_log.setLevel(logging.ERROR)
    try:
        return _migrate(args)
    finally:
        loader_log.setLevel(level)


def _migrate(args: argparse.Namespace) -> int:
    directory = config_dir(args)
    writing = not (args.dry_run or args.validate_only)
    try:
        # A writing run locks the directory before loading it: a run that is still writing
        # (and renames the legacy file last) must not be read half-way.
        with _lock_for(directory, writing=writing) as lock:
            migrator = ConfigMigrator.from_config_dir(directory, backup=not args.no_backup)
            if args.validate_only:
                return _report_validation(directory, migrator.validate_migration())
            result = migrator.migrate(dry_run=args.dry_run, lock=lock)
    except ConfigError as error:
        print_config_error(error)
        print("no file was changed", file=sys.stderr)
        return EXIT_INVALID
    except MigrationInProgressError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (MigrationError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    _report_result(result, verbose=args.verbose, dry_run=args.dry_run)
    return EXIT_OK


def _lock_for(directory: Path, *, writing: bool) -> AbstractContextManager[MigrationLock | None]:
    """The migration lock of `directory` for a writing run; none for a checking run, which
    writes nothing, or if `directory` is no directory (loading it says so)."""
    return migration_lock(directory) if writing and directory.is_dir() else nullcontext()


def _report_result(result: MigrationResult, *, verbose: bool, dry_run: bool) -> None:
    root = result.config_dir
    for path in result.removed_leftovers:
        print(f"  removed {path.relative_to(root)}: left behind by an interrupted migration")
    if verbose:
        for path in result.kept:
            print(f"  {path.relative_to(root)}: has its own fallback_config; left as it is")
    if not result.changed:
        print(
            f"nothing to migrate in {root}: every group and pool has its own fallback_config "
            "and there is no legacy global fallback file"
        )
        return
    for change in result.changes:
        if dry_run or verbose:
            print(change.diff(root), end="")
    for change in result.changes:
        print(f"  {change.describe(root)}")
    for note in result.notes:
        print(f"note: {note}")
    checked = f"the result loads, and all {result.routes_checked} routes and pools are as before"
    count = len(result.changes)
    if dry_run:
        print(f"dry run: {count} file(s) would change; {checked}; nothing was written")
        return
    print(f"migrated {root}: {count} file(s) changed; {checked}")
    print(f"backup: {result.backup_dir}" if result.backup_dir else "no backup (--no-backup)")


def _report_validation(directory: object, validation: MigrationValidation) -> int:
    if validation.issues:
        print_config_error(ConfigError(validation.issues))
        return EXIT_INVALID
    if validation.pending:
        print(f"{directory}: valid, but not migrated yet:")
        for line in validation.pending:
            print(f"  {line}")
        print("run `llm-wrappers migrate` (add --dry-run to see the changes first)")
        return EXIT_INVALID
    print(
        f"{directory}: migrated and valid: every group and pool has its own fallback_config, "
        f"no legacy global fallback file ({validation.routes_checked} routes and pools checked)"
    )
    return EXIT_OK
