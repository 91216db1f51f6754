"""`llm-wrappers migrate` on bad legacy input: a clear message, and no file changed.

Each case copies one of the example legacy directories, breaks it in one way (a YAML syntax
error, an unknown key, a conflicting setting), runs `llm-wrappers migrate` in-process and
checks that it exits with status 1, that stderr has a `file: field.path: message` line naming
the offending file and field, that no secret is printed, and that every file under the
directory is byte for byte what it was (no backup directory either).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrastructure.llm.cli.app import main
from infrastructure.llm.config import loader

LEGACY_CONFIGS = Path(__file__).resolve().parents[2] / "data" / "legacy_configs"
SECRET = "sk-legacy-example"  # the api_key of every model in the example registries
BACKUP_DIR = ".migration-backups"
LEGACY = "global_fallback.yaml"

Snapshot = dict[str, bytes]
Breaker = Callable[[Path], None]


@dataclass(frozen=True)
class BadInput:
    """One way to break a legacy directory, and the issue line `migrate` must print for it."""

    id: str
    base: str  # which directory under legacy_configs/ to copy
    breaks: Breaker
    file: str  # the file the issue line names, relative to the config directory
    field: str | None  # the field path after the file name; None if the issue has none
    fragments: tuple[str, ...]  # distinctive parts of the message


@dataclass(frozen=True)
class Outcome:
    """Exit status and captured output of one in-process run."""

    code: int
    out: str
    err: str


# --- helpers ------------------------------------------------------------------------------


def copy_legacy(base: str, tmp_path: Path) -> Path:
    """A private copy of `legacy_configs/<base>` to break."""
    return Path(shutil.copytree(LEGACY_CONFIGS / base, tmp_path / base))


def snapshot(root: Path) -> Snapshot:
    """Every file under `root`, recursively: relative path -> bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in `path` (bytes, so CRLF files stay CRLF)."""
    data = path.read_bytes()
    assert data.count(old.encode()) == 1, f"{old!r} is not in {path} exactly once"
    path.write_bytes(data.replace(old.encode(), new.encode()))


def append(path: Path, text: str) -> None:
    """Add `text` at the end of `path`."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def run_migrate(capsys: pytest.CaptureFixture[str], directory: Path, *options: str) -> Outcome:
    """Run `llm-wrappers migrate --config-dir <directory> *options` in-process."""
    code = main(["migrate", "--config-dir", str(directory), *options])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def issue_lines(err: str, directory: Path, case: BadInput) -> list[str]:
    """The stderr lines reporting `case`: `<file>: <field>: ...` holding every fragment."""
    where = f"{directory / case.file}: "
    if case.field is not None:
        where += f"{case.field}: "
    return [
        line
        for line in err.splitlines()
        if line.startswith(where) and all(fragment in line for fragment in case.fragments)
    ]


def assert_rejected(outcome: Outcome, before: Snapshot, directory: Path) -> None:
    """Exit status 1, nothing on stdout, no secret, and not one byte changed or added."""
    assert outcome.code == 1, outcome.out + outcome.err
    assert outcome.out == ""
    assert outcome.err.startswith("invalid configuration: ")
    assert outcome.err.rstrip().endswith("no file was changed")
    assert SECRET not in outcome.err
    assert snapshot(directory) == before
    assert not (directory / BACKUP_DIR).exists()


# --- ways to break a legacy directory -----------------------------------------------------


def legacy_yaml_syntax_error(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: [5")


def group_yaml_syntax_error(root: Path) -> None:
    replace_once(root / "groups" / "chat.yaml", "timeout: 10", "timeout: 10\n   bad: : x")


def crlf_group_yaml_syntax_error(root: Path) -> None:
    replace_once(
        root / "groups" / "standby.yml", "max_retries: 0\r\nechelon2", "max_retries: [0\r\nechelon2"
    )


def registry_syntax_error_on_secret_line(root: Path) -> None:
    registry = root / "models" / "registry.yaml"
    data = registry.read_bytes()
    registry.write_bytes(
        data.replace(f"api_key: {SECRET}".encode(), f"api_key: [{SECRET}: x".encode(), 1)
    )


def unknown_top_level_key(root: Path) -> None:
    replace_once(root / LEGACY, "\nfallback:", "\nfallbacks:")


def unknown_nested_key(root: Path) -> None:
    replace_once(root / LEGACY, "strategy: echelon_down", "stratgy: echelon_down")


def unknown_circuit_breaker_key(root: Path) -> None:
    replace_once(root / LEGACY, "recovery_time: 30", "recovery_tim: 30")


def unknown_strategy(root: Path) -> None:
    replace_once(root / LEGACY, "strategy: echelon_down", "strategy: echelon_up")


def zero_max_attempts(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: 0")


def negative_max_attempts(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: -2")


def negative_pool_attempts(root: Path) -> None:
    replace_once(root / LEGACY, "max_instance_attempts: 3", "max_instance_attempts: -1")


def duplicate_key(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: 5\n  max_attempts: 6")


def deadline_in_legacy(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: 5\n  deadline: 10")


def hedging_in_legacy(root: Path) -> None:
    replace_once(root / LEGACY, "max_attempts: 5", "max_attempts: 5\n  hedging:\n    delay: 1")


def unknown_group_in_chain(root: Path) -> None:
    replace_once(root / LEGACY, "[backup, last_resort]", "[backup, last_resrt]")


def unknown_echelon_in_chain(root: Path) -> None:
    replace_once(root / LEGACY, "[backup, last_resort]", "[backup.echelon7, last_resort]")


def non_contiguous_chain(root: Path) -> None:
    replace_once(root / LEGACY, "[backup, last_resort]", "[backup, last_resort, backup.echelon1]")


def both_legacy_files(root: Path) -> None:
    shutil.copyfile(root / LEGACY, root / "global_fallback.yml")


def group_switch_without_targets(root: Path) -> None:
    replace_once(root / LEGACY, '["standby.echelon1", "emergency"]', "[]")


def cycle_through_inherited_chain(root: Path) -> None:
    # backup -> chat on its own; chat inherits [backup, last_resort]: chat -> backup -> chat.
    append(root / "groups" / "backup.yaml", "fallback_config:\n  fallback_groups: [chat]\n")


def cycle_through_group_switch_chain(root: Path) -> None:
    # emergency -> primary on its own; primary inherits [standby.echelon1, emergency].
    replace_once(
        root / "groups" / "emergency.yaml",
        "name: emergency",
        "name: emergency\nfallback_config:\n  fallback_groups: [primary]",
    )


def unknown_group_file_key(root: Path) -> None:
    replace_once(
        root / "groups" / "chat.yaml",
        "name: chat",
        "name: chat\nfallback_confg:\n  max_attempts: 2",
    )


def flow_style_group_file(root: Path) -> None:
    (root / "groups" / "chat.yaml").write_text(
        "{name: chat, echelon1: {models: [chat-large]}}\n", encoding="utf-8"
    )


def flow_style_pool_file(root: Path) -> None:
    (root / "polling_pools" / "chat_pool.yaml").write_text(
        "{name: chat_pool, task_groups: [chat]}\n", encoding="utf-8"
    )


CASES = [
    BadInput(
        "legacy-yaml-syntax",
        "global_chain",
        legacy_yaml_syntax_error,
        LEGACY,
        None,
        ("invalid YAML at line 7", "flow sequence"),
    ),
    BadInput(
        "group-yaml-syntax",
        "global_chain",
        group_yaml_syntax_error,
        "groups/chat.yaml",
        None,
        ("invalid YAML at line 9", "mapping values are not allowed"),
    ),
    BadInput(
        "crlf-group-yaml-syntax",
        "group_switch",
        crlf_group_yaml_syntax_error,
        "groups/standby.yml",
        None,
        ("invalid YAML at line", "flow sequence"),
    ),
    BadInput(
        "registry-syntax-on-secret-line",
        "global_chain",
        registry_syntax_error_on_secret_line,
        "models/registry.yaml",
        None,
        ("invalid YAML at line 9",),
    ),
    BadInput(
        "unknown-top-level-key",
        "global_chain",
        unknown_top_level_key,
        LEGACY,
        "fallbacks",
        ("unknown field 'fallbacks'", "fallback, polling_pool_fallback"),
    ),
    BadInput(
        "unknown-nested-key",
        "global_chain",
        unknown_nested_key,
        LEGACY,
        "fallback.stratgy",
        ("unknown field 'stratgy'", "strategy"),
    ),
    BadInput(
        "unknown-circuit-breaker-key",
        "global_chain",
        unknown_circuit_breaker_key,
        LEGACY,
        "fallback.circuit_breaker.recovery_tim",
        ("unknown field 'recovery_tim'", "recovery_time"),
    ),
    BadInput(
        "unknown-strategy",
        "global_chain",
        unknown_strategy,
        LEGACY,
        "fallback.strategy",
        ("unknown value 'echelon_up'", "'echelon_down'"),
    ),
    BadInput(
        "zero-max-attempts",
        "global_chain",
        zero_max_attempts,
        LEGACY,
        "fallback.max_attempts",
        (">= 1, got 0",),
    ),
    BadInput(
        "negative-max-attempts",
        "global_chain",
        negative_max_attempts,
        LEGACY,
        "fallback.max_attempts",
        (">= 1, got -2",),
    ),
    BadInput(
        "negative-pool-attempts",
        "global_chain",
        negative_pool_attempts,
        LEGACY,
        "polling_pool_fallback.max_instance_attempts",
        (">= 1, got -1",),
    ),
    BadInput(
        "duplicate-key",
        "global_chain",
        duplicate_key,
        LEGACY,
        "fallback.max_attempts",
        ("duplicate key 'max_attempts'", "line 7", "line 6"),
    ),
    BadInput(
        "deadline-in-legacy",
        "global_chain",
        deadline_in_legacy,
        LEGACY,
        "fallback.deadline",
        ("not part of the legacy global fallback", "own fallback_config"),
    ),
    BadInput(
        "hedging-in-legacy",
        "global_chain",
        hedging_in_legacy,
        LEGACY,
        "fallback.hedging",
        ("not part of the legacy global fallback", "own fallback_config"),
    ),
    BadInput(
        "unknown-group-in-chain",
        "global_chain",
        unknown_group_in_chain,
        LEGACY,
        "fallback.fallback_groups[1]",
        ("unknown group 'last_resrt'", "did you mean 'last_resort'?"),
    ),
    BadInput(
        "unknown-echelon-in-chain",
        "global_chain",
        unknown_echelon_in_chain,
        LEGACY,
        "fallback.fallback_groups[0]",
        ("group 'backup' has no echelon7", "it has echelon1"),
    ),
    BadInput(
        "non-contiguous-chain",
        "global_chain",
        non_contiguous_chain,
        LEGACY,
        "fallback.fallback_groups[2]",
        ("'backup' is also named at fallback_groups[0]", "must stand together"),
    ),
    BadInput(
        "both-legacy-files",
        "global_chain",
        both_legacy_files,
        "global_fallback.yml",
        None,
        ("conflicting legacy global fallback files", "global_fallback.yaml and", "keep one"),
    ),
    BadInput(
        "group-switch-without-targets",
        "group_switch",
        group_switch_without_targets,
        LEGACY,
        "fallback.fallback_groups",
        ("'task_group_switch' needs at least one fallback target",),
    ),
    BadInput(
        "cycle-through-inherited-chain",
        "global_chain",
        cycle_through_inherited_chain,
        LEGACY,
        "fallback.fallback_groups",
        ("fallback cycle", "backup -> chat -> backup", "chat.yaml"),
    ),
    BadInput(
        "cycle-through-group-switch-chain",
        "group_switch",
        cycle_through_group_switch_chain,
        LEGACY,
        "fallback.fallback_groups",
        ("fallback cycle", "emergency -> primary -> emergency", "primary.yaml"),
    ),
    BadInput(
        "unknown-group-file-key",
        "global_chain",
        unknown_group_file_key,
        "groups/chat.yaml",
        "fallback_confg",
        ("unknown top-level key 'fallback_confg'", "fallback_config"),
    ),
    BadInput(
        "flow-style-group-file",
        "global_chain",
        flow_style_group_file,
        "groups/chat.yaml",
        None,
        ("flow-style mapping", "block style"),
    ),
    BadInput(
        "flow-style-pool-file",
        "global_chain",
        flow_style_pool_file,
        "polling_pools/chat_pool.yaml",
        None,
        ("flow-style mapping", "block style"),
    ),
]


# --- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_legacy_input_is_named_and_nothing_changes(
    case: BadInput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = copy_legacy(case.base, tmp_path)
    case.breaks(directory)
    before = snapshot(directory)

    outcome = run_migrate(capsys, directory)

    assert_rejected(outcome, before, directory)
    assert issue_lines(outcome.err, directory, case), outcome.err
    if "syntax" in case.id:
        # The read error alone: names the unreadable file defines are not reported missing.
        assert outcome.err.startswith("invalid configuration: 1 issue\n"), outcome.err


def test_migrate_leaves_the_loader_warning_on_for_the_rest_of_the_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    level = logging.getLogger(loader.__name__).getEffectiveLevel()
    run_migrate(capsys, copy_legacy("global_chain", tmp_path), "--dry-run")
    assert logging.getLogger(loader.__name__).getEffectiveLevel() == level


@pytest.mark.parametrize(
    "options",
    [["--dry-run"], ["--validate-only"], ["--no-backup"], ["--dry-run", "--verbose"]],
    ids=" ".join,
)
def test_every_mode_rejects_bad_input_without_writing(
    options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = next(case for case in CASES if case.id == "unknown-nested-key")
    directory = copy_legacy(case.base, tmp_path)
    case.breaks(directory)
    before = snapshot(directory)

    outcome = run_migrate(capsys, directory, *options)

    assert_rejected(outcome, before, directory)
    assert issue_lines(outcome.err, directory, case), outcome.err


def test_the_unbroken_copies_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: the examples the cases start from are valid, so each case's failure is its own."""
    for base in sorted({case.base for case in CASES}):
        directory = copy_legacy(base, tmp_path)
        before = snapshot(directory)
        outcome = run_migrate(capsys, directory, "--dry-run")
        assert outcome.code == 0, outcome.err
        assert "nothing was written" in outcome.out
        assert SECRET not in outcome.out + outcome.err
        assert snapshot(directory) == before


def test_a_secret_next_to_an_unknown_key_is_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = copy_legacy("global_chain", tmp_path)
    registry = directory / "models" / "registry.yaml"
    data = registry.read_bytes()
    registry.write_bytes(data.replace(b"api_key:", b"api_kee:", 1))
    before = snapshot(directory)

    outcome = run_migrate(capsys, directory)

    assert_rejected(outcome, before, directory)
    assert f"{registry}: models.chat-large.api_kee: unknown field 'api_kee'" in outcome.err
