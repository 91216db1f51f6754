"""The migration lock across real processes: held by one, refused to another, and released by
the kernel when its holder is killed (no stale lock to remove by hand). Two migrations started
together never interleave: each either migrates, finds nothing left, or is refused.

The unit tier (unit_tests/migration/test_leftovers_and_lock.py) takes the lock in-process.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.llm.migration import ConfigMigrator, MigrationInProgressError
from infrastructure.llm.migration.lock import LOCK_FILE

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "data" / "legacy_configs"
MIGRATE = [sys.executable, str(REPO / "scripts" / "migrate_llm_config.py")]

# Takes the lock, says so, then holds it until stdin closes (or the process is killed).
HOLDER = """
import sys
from pathlib import Path
from infrastructure.llm.migration.lock import migration_lock
with migration_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    """A fresh copy of the `global_chain` legacy example."""
    return Path(shutil.copytree(EXAMPLES / "global_chain", tmp_path / "llms"))


@pytest.fixture
def holder(legacy_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the migration lock of `legacy_dir`."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(legacy_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "locked\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def test_a_lock_held_by_another_process_refuses_a_run(
    legacy_dir: Path, holder: subprocess.Popen[str]
) -> None:
    before = (legacy_dir / "groups" / "chat.yaml").read_bytes()
    result = subprocess.run(
        [*MIGRATE, "--config-dir", str(legacy_dir)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == (
        f"error: another migration is running on {legacy_dir} (lock {legacy_dir / LOCK_FILE}); "
        "try again when it has finished\n"
    )
    assert (legacy_dir / "groups" / "chat.yaml").read_bytes() == before


def test_the_lock_of_a_killed_holder_is_released(
    legacy_dir: Path, holder: subprocess.Popen[str]
) -> None:
    migrator = ConfigMigrator.from_config_dir(legacy_dir)
    with pytest.raises(MigrationInProgressError):
        migrator.migrate()
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=60) == -signal.SIGKILL
    assert (legacy_dir / LOCK_FILE).exists()  # left behind, but no longer locked
    result = migrator.migrate()
    assert result.written
    assert not (legacy_dir / LOCK_FILE).exists()


def test_a_holder_that_finishes_removes_the_lock_file(
    legacy_dir: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert not (legacy_dir / LOCK_FILE).exists()


def test_two_runs_started_together_never_interleave(legacy_dir: Path) -> None:
    runs = [
        subprocess.Popen(
            [*MIGRATE, "--config-dir", str(legacy_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(*run.communicate(timeout=60), run.returncode) for run in runs]
    migrated = [out for out, _, code in outcomes if code == 0 and out.startswith("  ")]
    assert len(migrated) == 1, outcomes  # its first lines list the files it changed
    for out, err, code in outcomes:
        assert (
            out in migrated
            or (code == 0 and out.startswith("nothing to migrate"))
            or (code == 1 and err.startswith("error: another migration is running on"))
        ), (out, err, code)
    assert (legacy_dir / "global_fallback.yaml.migrated").is_file()
    assert not (legacy_dir / LOCK_FILE).exists()
    assert not list(legacy_dir.rglob("*.tmp"))
