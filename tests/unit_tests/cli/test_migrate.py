"""`llm-wrappers migrate` and `scripts/migrate_llm_config.py`: options, output, exit status.

The script runs in-process here (as `__main__`, as `python scripts/migrate_llm_config.py`
would run it); the integration tier's cli/test_migrate.py runs it once as a process.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from infrastructure.llm.migration.safe_write import BACKUP_DIR

from conftest import RunCli, RunInProcess

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "tests" / "data" / "legacy_configs"


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    """A fresh copy of the `global_chain` legacy example."""
    return Path(shutil.copytree(EXAMPLES / "global_chain", tmp_path / "llms"))


def test_migrate_backs_up_every_file_it_touches(cli: RunCli, legacy_dir: Path) -> None:
    originals = {p: p.read_bytes() for p in legacy_dir.rglob("*.yaml")}
    outcome = cli("migrate", "--config-dir", str(legacy_dir))
    assert outcome.code == 0, outcome.err
    [backup] = (legacy_dir / BACKUP_DIR).iterdir()
    assert re.fullmatch(r"\d{8}-\d{6}", backup.name)
    copies = sorted(str(p.relative_to(backup)) for p in backup.rglob("*") if p.is_file())
    assert copies == [
        "global_fallback.yaml",
        "groups/backup.yaml",
        "groups/chat.yaml",
        "groups/last_resort.yaml",
        "groups/summarize.yaml",
        "polling_pools/chat_pool.yaml",
    ]
    for name in copies:
        assert (backup / name).read_bytes() == originals[legacy_dir / name]
    assert f"backup: {backup}" in outcome.out
    assert "6 file(s) changed" in outcome.out


def test_no_backup_writes_no_backup(cli: RunCli, legacy_dir: Path) -> None:
    outcome = cli("migrate", "--config-dir", str(legacy_dir), "--no-backup")
    assert outcome.code == 0, outcome.err
    assert not (legacy_dir / BACKUP_DIR).exists()
    assert "no backup (--no-backup)" in outcome.out
    assert (legacy_dir / "global_fallback.yaml.migrated").is_file()


def test_a_second_run_says_there_is_nothing_to_migrate(cli: RunCli, legacy_dir: Path) -> None:
    assert cli("migrate", "--config-dir", str(legacy_dir)).code == 0
    again = cli("migrate", "--config-dir", str(legacy_dir))
    assert again.code == 0
    assert "nothing to migrate" in again.out
    assert len(list((legacy_dir / BACKUP_DIR).iterdir())) == 1


def test_dry_run_prints_a_diff_of_every_change(cli: RunCli, legacy_dir: Path) -> None:
    outcome = cli("migrate", "--config-dir", str(legacy_dir), "--dry-run")
    assert outcome.code == 0, outcome.err
    assert "--- a/groups/chat.yaml\n+++ b/groups/chat.yaml\n" in outcome.out
    assert '+  fallback_groups: ["backup", "last_resort"]\n' in outcome.out
    assert '+  fallback_groups: ["last_resort"]\n' in outcome.out  # backup.yaml
    assert "rename global_fallback.yaml -> global_fallback.yaml.migrated" in outcome.out
    assert "dry run: 6 file(s) would change" in outcome.out
    assert "all 8 routes and pools are as before" in outcome.out


def test_verbose_shows_the_diff_and_the_files_left_alone(cli: RunCli, tmp_path: Path) -> None:
    root = Path(shutil.copytree(EXAMPLES / "group_switch", tmp_path / "llms"))
    outcome = cli("migrate", "--config-dir", str(root), "--verbose")
    assert outcome.code == 0, outcome.err
    assert "groups/special.yaml: has its own fallback_config; left as it is" in outcome.out
    assert "--- a/groups/primary.yaml" in outcome.out
    quiet = cli("migrate", "--config-dir", str(shutil.copytree(root, tmp_path / "again")))
    assert "--- a/" not in quiet.out and "left as it is" not in quiet.out


def test_validate_only_passes_only_a_migrated_directory(cli: RunCli, legacy_dir: Path) -> None:
    pending = cli("migrate", "--config-dir", str(legacy_dir), "--validate-only")
    assert pending.code == 1
    assert "groups/chat.yaml: no fallback_config of its own yet" in pending.out
    assert "global_fallback.yaml: legacy global fallback still in place" in pending.out
    assert cli("migrate", "--config-dir", str(legacy_dir)).code == 0
    done = cli("migrate", "--config-dir", str(legacy_dir), "--validate-only")
    assert done.code == 0, done.out + done.err
    assert "migrated and valid" in done.out


def test_validate_only_and_dry_run_exclude_each_other(cli: RunCli, legacy_dir: Path) -> None:
    with pytest.raises(SystemExit) as usage:
        cli("migrate", "--config-dir", str(legacy_dir), "--dry-run", "--validate-only")
    assert usage.value.code == 2


def test_the_repository_configs_are_already_migrated(cli: RunCli) -> None:
    outcome = cli("migrate", "--config-dir", str(REPO / "configs" / "llms"), "--validate-only")
    assert outcome.code == 0, outcome.out + outcome.err


# The ids the three cases had together; the first, `options0-0` (no options: the migration
# itself), runs the script as a process: cli/test_migrate.py in the integration tier.
@pytest.mark.parametrize(
    ("options", "status"),
    [
        pytest.param(("--validate-only",), 1, id="options1-1"),
        pytest.param(("--dry-run",), 0, id="options2-0"),
    ],
)
def test_the_script_is_the_same_command(
    legacy_dir: Path, options: tuple[str, ...], status: int, run_in_process: RunInProcess
) -> None:
    before = (legacy_dir / "groups" / "chat.yaml").read_bytes()
    result = run_in_process(
        [
            str(REPO / "scripts" / "migrate_llm_config.py"),
            "--config-dir",
            str(legacy_dir),
            *options,
        ]
    )
    assert result.returncode == status, result.stdout + result.stderr
    after = (legacy_dir / "groups" / "chat.yaml").read_bytes()
    assert (after != before) == (options == ())
    assert "legacy global fallback, inherited" not in result.stderr  # no loader warning


def test_the_script_reports_bad_input_with_status_1(
    legacy_dir: Path, run_in_process: RunInProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    (legacy_dir / "global_fallback.yaml").write_text("fallback:\n  strategy: sideways\n")
    monkeypatch.chdir(legacy_dir.parent)
    monkeypatch.setenv("LLM_WRAPPERS_CONFIG_DIR", str(legacy_dir))  # no --config-dir given
    result = run_in_process([str(REPO / "scripts" / "migrate_llm_config.py")])
    assert result.returncode == 1
    assert "global_fallback.yaml: fallback.strategy: unknown value 'sideways'" in result.stderr
    assert "no file was changed" in result.stderr
