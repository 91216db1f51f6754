"""The legacy global fallback: `global_fallback.yaml` inherited by groups and pools at load time.

Loading the example legacy directories gives every group and pool without its own
`fallback_config` the one the chain rule says (a group named in the global `fallback_groups`
falls back only to the entries after its own; `task_group_switch` with nothing left becomes
`echelon_down` with one attempt), never overrides a group's own settings, and warns once per
legacy file. `LegacyGlobalFallback.for_group`, `parse_legacy_fallback` and `check_legacy_chain`
are also tested on their own.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrastructure.llm.config import (
    CircuitBreakerConfig,
    FallbackChain,
    FallbackConfig,
    LLMConfig,
    PollingPoolFallbackConfig,
    TaskGroupConfig,
    load_config_dir,
)
from infrastructure.llm.config import loader as loader_module
from infrastructure.llm.config.definitions import Definitions
from infrastructure.llm.config.legacy_fallback import (
    LegacyGlobalFallback,
    check_legacy_chain,
    parse_legacy_fallback,
)

LEGACY_CONFIGS = Path(__file__).resolve().parents[2] / "data" / "legacy_configs"
LOADER_LOGGER = loader_module.__name__
LEGACY_FILE = "global_fallback.yaml"

GLOBAL_CHAIN_BREAKER = CircuitBreakerConfig(
    failure_threshold=4, recovery_time=30, half_open_requests=2
)


# --- helpers ------------------------------------------------------------------------------


def copy_legacy(base: str, tmp_path: Path) -> Path:
    """A private copy of `tests/data/legacy_configs/<base>` (a path no test loaded yet)."""
    return Path(shutil.copytree(LEGACY_CONFIGS / base, tmp_path / base))


def load(directory: Path) -> LLMConfig:
    """Load `directory` with an empty environment (the examples' `${VAR:-default}` apply)."""
    return load_config_dir(directory, env={})


def global_chain_fallback(fallback_groups: list[str]) -> FallbackConfig:
    """What a group of `global_chain` inherits, with the chain entries it is left with."""
    return FallbackConfig(
        strategy="echelon_down",
        fallback_groups=fallback_groups,
        max_attempts=5,
        retry_delay=0.05,
        circuit_breaker=GLOBAL_CHAIN_BREAKER,
    )


def legacy(**fallback: Any) -> LegacyGlobalFallback:
    """A legacy global fallback with the given `fallback:` settings."""
    return LegacyGlobalFallback.model_validate({"fallback": fallback})


def group(name: str, echelons: int = 1) -> TaskGroupConfig:
    """A valid task group with `echelons` echelons of one mock model each."""
    return TaskGroupConfig.model_validate(
        {"name": name, "echelons": {n: {"models": ["m"]} for n in range(1, echelons + 1)}}
    )


def definitions(
    *groups: TaskGroupConfig, invalid: tuple[str, ...] = ()
) -> Definitions[TaskGroupConfig]:
    """Groups as the loader gathers them; names in `invalid` are defined but failed to parse."""
    found: Definitions[TaskGroupConfig] = Definitions("group")
    for item in groups:
        assert found.add(item.name, item, f"groups/{item.name}.yaml", "name") is None
    for name in invalid:
        assert found.add(name, None, f"groups/{name}.yaml", "name") is None
    return found


def legacy_warnings(records: list[logging.LogRecord]) -> list[str]:
    """The loader's legacy-file warnings among `records`."""
    return [
        record.getMessage()
        for record in records
        if record.name == LOADER_LOGGER
        and record.levelno == logging.WARNING
        and "legacy global fallback" in record.getMessage()
    ]


@pytest.fixture
def loader_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture the loader's warnings, whatever level another test left its logger at."""
    with caplog.at_level(logging.WARNING, logger=LOADER_LOGGER):
        yield caplog


# --- loading the example directories ------------------------------------------------------


def test_global_chain_groups_inherit_by_the_chain_rule(tmp_path: Path) -> None:
    config = load(copy_legacy("global_chain", tmp_path))
    fallbacks = {name: item.fallback_config for name, item in config.groups.items()}
    assert fallbacks == {
        # Not in the chain: the whole chain.
        "chat": global_chain_fallback(["backup", "last_resort"]),
        "summarize": global_chain_fallback(["backup", "last_resort"]),
        # In the chain: only what follows it.
        "backup": global_chain_fallback(["last_resort"]),
        "last_resort": global_chain_fallback([]),
    }


def test_global_chain_pool_inherits_the_pool_fallback(tmp_path: Path) -> None:
    config = load(copy_legacy("global_chain", tmp_path))
    assert config.pools["chat_pool"].fallback_config == PollingPoolFallbackConfig(
        strategy="simple_retry", max_instance_attempts=3
    )


def test_group_switch_chain_rule_and_own_settings(tmp_path: Path) -> None:
    config = load(copy_legacy("group_switch", tmp_path))
    fallbacks = {name: item.fallback_config for name, item in config.groups.items()}
    assert fallbacks["primary"] == FallbackConfig(
        strategy="task_group_switch",
        fallback_groups=["standby.echelon1", "emergency"],
        max_attempts=3,
    )
    assert fallbacks["standby"] == FallbackConfig(
        strategy="task_group_switch", fallback_groups=["emergency"], max_attempts=3
    )
    # Last in the chain: nothing left to switch to, so its first echelon alone is tried.
    assert fallbacks["emergency"] == FallbackConfig(
        strategy="echelon_down", fallback_groups=[], max_attempts=1
    )
    # Its own fallback_config, exactly as written (strategy and max_attempts only).
    assert fallbacks["special"] == FallbackConfig(strategy="echelon_down", max_attempts=1)
    assert fallbacks["special"].model_fields_set == {"strategy", "max_attempts"}


def test_group_switch_pools_keep_their_own_or_get_the_defaults(tmp_path: Path) -> None:
    config = load(copy_legacy("group_switch", tmp_path))
    assert config.pools["primary_pool"].fallback_config == PollingPoolFallbackConfig(
        strategy="instance_rotation", max_instance_attempts=4
    )
    # No polling_pool_fallback section in the legacy file: the built-in defaults.
    assert config.pools["standby_pool"].fallback_config == PollingPoolFallbackConfig(
        strategy="instance_rotation", max_instance_attempts=2
    )


def test_a_yml_legacy_file_is_applied_too(tmp_path: Path) -> None:
    directory = copy_legacy("global_chain", tmp_path)
    (directory / LEGACY_FILE).rename(directory / "global_fallback.yml")
    config = load(directory)
    assert config.groups["chat"].fallback_config == global_chain_fallback(["backup", "last_resort"])


@pytest.mark.parametrize(
    "own_fallback",
    [
        "fallback_config: {}\n",
        "fallback_config:\n  strategy: echelon_down\n  max_attempts: 3\n",
    ],
    ids=["empty-mapping", "explicit-defaults"],
)
def test_a_groups_own_fallback_equal_to_the_defaults_is_kept(
    own_fallback: str, tmp_path: Path
) -> None:
    directory = copy_legacy("global_chain", tmp_path)
    with (directory / "groups" / "chat.yaml").open("a", encoding="utf-8") as handle:
        handle.write(own_fallback)
    config = load(directory)
    assert config.groups["chat"].fallback_config == FallbackConfig()
    # The others still inherit.
    assert config.groups["summarize"].fallback_config == global_chain_fallback(
        ["backup", "last_resort"]
    )


def test_a_pools_own_fallback_equal_to_the_defaults_is_kept(tmp_path: Path) -> None:
    directory = copy_legacy("global_chain", tmp_path)
    with (directory / "polling_pools" / "chat_pool.yaml").open("a", encoding="utf-8") as handle:
        handle.write("fallback_config: {}\n")
    config = load(directory)
    assert config.pools["chat_pool"].fallback_config == PollingPoolFallbackConfig()


def test_without_a_legacy_file_groups_keep_the_defaults(tmp_path: Path) -> None:
    config = load(copy_legacy("defaults_only", tmp_path))
    assert config.groups["chat"].fallback_config == FallbackConfig()
    assert config.pools["chat_pool"].fallback_config == PollingPoolFallbackConfig()


# --- the warning --------------------------------------------------------------------------


def test_the_legacy_warning_is_given_once_per_file(
    tmp_path: Path, loader_warnings: pytest.LogCaptureFixture
) -> None:
    directory = copy_legacy("global_chain", tmp_path)
    load(directory)
    load(directory)
    load(directory)
    warnings = legacy_warnings(loader_warnings.records)
    assert len(warnings) == 1
    assert str(directory / LEGACY_FILE) in warnings[0]
    assert f"llm-wrappers migrate --config-dir {directory}" in warnings[0]


def test_each_legacy_file_gets_its_own_warning(
    tmp_path: Path, loader_warnings: pytest.LogCaptureFixture
) -> None:
    first = copy_legacy("global_chain", tmp_path / "first")
    second = copy_legacy("group_switch", tmp_path / "second")
    for directory in (first, second, first, second):
        load(directory)
    warnings = legacy_warnings(loader_warnings.records)
    assert len(warnings) == 2
    assert str(first / LEGACY_FILE) in warnings[0]
    assert str(second / LEGACY_FILE) in warnings[1]


def test_no_warning_without_a_legacy_file(
    tmp_path: Path, loader_warnings: pytest.LogCaptureFixture
) -> None:
    load(copy_legacy("defaults_only", tmp_path))
    assert legacy_warnings(loader_warnings.records) == []


# --- LegacyGlobalFallback.for_group -------------------------------------------------------


def test_a_group_outside_the_chain_gets_the_whole_chain() -> None:
    chain = legacy(fallback_groups=["b", "c"], max_attempts=4, retry_delay=0.5)
    assert chain.for_group("a") == FallbackConfig(
        fallback_groups=["b", "c"], max_attempts=4, retry_delay=0.5
    )


@pytest.mark.parametrize(
    ("group_name", "rest"),
    [("a", ["b", "c"]), ("b", ["c"]), ("c", [])],
)
def test_a_group_in_the_chain_gets_only_what_follows_it(group_name: str, rest: list[str]) -> None:
    chain = legacy(fallback_groups=["a", "b", "c"])
    assert chain.for_group(group_name).fallback_groups == rest


@pytest.mark.parametrize(
    ("group_name", "rest"),
    [("chat", ["backup", "last.echelon2"]), ("backup", ["last.echelon2"]), ("last", [])],
)
def test_echelon_entries_count_as_their_group(group_name: str, rest: list[str]) -> None:
    chain = legacy(fallback_groups=["chat.echelon2", "chat.echelon3", "backup", "last.echelon2"])
    assert chain.for_group(group_name).fallback_groups == rest


def test_echelon_down_at_the_end_of_the_chain_keeps_its_settings() -> None:
    chain = legacy(strategy="echelon_down", fallback_groups=["a"], max_attempts=5)
    assert chain.for_group("a") == FallbackConfig(
        strategy="echelon_down", fallback_groups=[], max_attempts=5
    )


def test_group_switch_with_nothing_left_becomes_one_echelon_down_attempt() -> None:
    chain = legacy(strategy="task_group_switch", fallback_groups=["a", "b"], max_attempts=4)
    assert chain.for_group("a") == FallbackConfig(
        strategy="task_group_switch", fallback_groups=["b"], max_attempts=4
    )
    assert chain.for_group("b") == FallbackConfig(
        strategy="echelon_down", fallback_groups=[], max_attempts=1
    )


def test_for_group_keeps_the_other_settings() -> None:
    breaker = {"failure_threshold": 2, "recovery_time": 5.0, "half_open_requests": 3}
    chain = legacy(
        strategy="provider_failover",
        fallback_groups=["a"],
        retry_delay=1.5,
        circuit_breaker=breaker,
    )
    inherited = chain.for_group("a")
    assert inherited.strategy == "provider_failover"
    assert inherited.retry_delay == 1.5
    assert inherited.circuit_breaker == CircuitBreakerConfig(**breaker)
    assert inherited.deadline is None
    assert inherited.hedging is None


def test_for_group_does_not_change_the_legacy_settings() -> None:
    chain = legacy(strategy="task_group_switch", fallback_groups=["a", "b"])
    chain.for_group("b")
    assert chain.fallback == FallbackChain(strategy="task_group_switch", fallback_groups=["a", "b"])


# --- parse_legacy_fallback ----------------------------------------------------------------


def test_a_valid_legacy_file_parses_without_issues() -> None:
    data = {
        "fallback": {"strategy": "task_group_switch", "fallback_groups": ["a"]},
        "polling_pool_fallback": {"strategy": "simple_retry"},
    }
    parsed, issues = parse_legacy_fallback(data, LEGACY_FILE)
    assert issues == []
    assert parsed is not None
    assert parsed.fallback.fallback_groups == ["a"]
    assert parsed.polling_pool_fallback.strategy == "simple_retry"


def test_an_empty_legacy_file_means_the_defaults() -> None:
    parsed, issues = parse_legacy_fallback({}, LEGACY_FILE)
    assert issues == []
    assert parsed == LegacyGlobalFallback(
        fallback=FallbackChain(), polling_pool_fallback=PollingPoolFallbackConfig()
    )


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"fallbacks": {}}, "fallbacks", "unknown field 'fallbacks'"),
        ({"fallback": {"stratgy": "x"}}, "fallback.stratgy", "unknown field 'stratgy'"),
        ({"fallback": {"strategy": "up"}}, "fallback.strategy", "unknown value 'up'"),
        ({"fallback": {"max_attempts": 0}}, "fallback.max_attempts", ">= 1, got 0"),
        ({"fallback": {"retry_delay": -1}}, "fallback.retry_delay", ">= 0, got -1"),
        (
            {"fallback": {"fallback_groups": ["a.echelon0"]}},
            "fallback.fallback_groups[0]",
            "expected a target 'group' or 'group.echelonN'",
        ),
        (
            {"fallback": {"strategy": "task_group_switch"}},
            "fallback.fallback_groups",
            "needs at least one fallback target",
        ),
        (
            {"polling_pool_fallback": {"max_instance_attempts": 0}},
            "polling_pool_fallback.max_instance_attempts",
            ">= 1, got 0",
        ),
        ({"fallback": {"deadline": 5}}, "fallback.deadline", "not part of the legacy"),
        ({"fallback": {"hedging": {"delay": 1}}}, "fallback.hedging", "not part of the legacy"),
    ],
    ids=[
        "unknown-section",
        "unknown-field",
        "unknown-strategy",
        "zero-attempts",
        "negative-delay",
        "bad-target",
        "switch-without-targets",
        "pool-zero-attempts",
        "deadline",
        "hedging",
    ],
)
def test_parse_issues_name_the_field(data: dict[str, Any], path: str, fragment: str) -> None:
    parsed, issues = parse_legacy_fallback(data, LEGACY_FILE)
    assert parsed is None
    assert [(issue.file, issue.path) for issue in issues] == [(LEGACY_FILE, path)]
    assert fragment in issues[0].message


def test_both_newer_fields_are_reported() -> None:
    data = {"fallback": {"deadline": 5, "hedging": {"delay": 1}}}
    parsed, issues = parse_legacy_fallback(data, LEGACY_FILE)
    assert parsed is None
    assert [issue.path for issue in issues] == ["fallback.deadline", "fallback.hedging"]
    assert all("own fallback_config" in issue.message for issue in issues)


# --- check_legacy_chain -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fallback_groups",
    [[], ["a"], ["a", "b.echelon1", "b.echelon2", "c"], ["b.echelon2", "b", "a"]],
    ids=["empty", "one", "echelons-together", "echelon-then-group"],
)
def test_a_chain_of_known_targets_standing_together_has_no_issues(
    fallback_groups: list[str],
) -> None:
    groups = definitions(group("a"), group("b", echelons=2), group("c"))
    assert check_legacy_chain(legacy(fallback_groups=fallback_groups), LEGACY_FILE, groups) == []


def test_an_unknown_group_is_named_with_the_close_match() -> None:
    groups = definitions(group("backup"), group("last_resort"))
    chain = legacy(fallback_groups=["backup", "last_resrt"])
    [issue] = check_legacy_chain(chain, LEGACY_FILE, groups)
    assert (issue.file, issue.path) == (LEGACY_FILE, "fallback.fallback_groups[1]")
    assert "unknown group 'last_resrt'" in issue.message
    assert "did you mean 'last_resort'?" in issue.message


def test_an_unknown_echelon_is_named_with_the_echelons_there_are() -> None:
    groups = definitions(group("backup", echelons=2))
    [issue] = check_legacy_chain(legacy(fallback_groups=["backup.echelon7"]), LEGACY_FILE, groups)
    assert issue.path == "fallback.fallback_groups[0]"
    assert issue.message == "group 'backup' has no echelon7; it has echelon1, echelon2"


def test_an_echelon_of_an_invalid_group_is_not_reported_again() -> None:
    groups = definitions(group("a"), invalid=("broken",))
    assert check_legacy_chain(legacy(fallback_groups=["a", "broken.echelon9"]), "f", groups) == []


def test_a_group_named_in_separate_runs_is_reported_where_it_comes_back() -> None:
    groups = definitions(group("backup"), group("last_resort"))
    chain = legacy(fallback_groups=["backup", "last_resort", "backup.echelon1"])
    [issue] = check_legacy_chain(chain, LEGACY_FILE, groups)
    assert (issue.file, issue.path) == (LEGACY_FILE, "fallback.fallback_groups[2]")
    assert "'backup' is also named at fallback_groups[0]" in issue.message
    assert "must stand together" in issue.message


def test_every_chain_issue_is_reported() -> None:
    groups = definitions(group("a"), group("b"))
    chain = legacy(fallback_groups=["a", "b", "a", "zzz", "b.echelon3"])
    issues = check_legacy_chain(chain, LEGACY_FILE, groups)
    assert [issue.path for issue in issues] == [
        "fallback.fallback_groups[2]",  # a again, after b
        "fallback.fallback_groups[3]",  # unknown group
        "fallback.fallback_groups[4]",  # no echelon3 ...
        "fallback.fallback_groups[4]",  # ... and b again, after a and zzz
    ]
