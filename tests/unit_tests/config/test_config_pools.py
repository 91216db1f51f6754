"""Polling pool files: the shipped examples, defaults, field validation and cross-file checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import (
    FallbackTarget,
    HedgingConfig,
    LLMConfig,
    PollingPoolFallbackConfig,
    load_config_dir,
    load_config_files,
)
from infrastructure.llm.errors import ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs" / "llms"
GROUP = "name: fast_group\nechelon1: {models: [alpha]}\nechelon2: {models: [beta]}\n"


@pytest.fixture(autouse=True)
def _groups(config_dir: Path, registry: Path, write: Write) -> None:
    """Every test here has models `alpha`, `beta`, group `fast_group` (two echelons) and a
    polling_pools/ directory."""
    (config_dir / "polling_pools").mkdir()
    write("groups/fast_group.yaml", GROUP)


def pool(name: str = "p", task_groups: str = "fast_group", extra: str = "") -> str:
    """YAML of a pool over the given task groups, with extra top-level lines."""
    return f"name: {name}\ntask_groups: [{task_groups}]\n{extra}"


def test_example_pools_match_the_seed() -> None:
    config = load_config_dir(CONFIG_DIR, env={})
    assert sorted(config.pools) == ["fast_pool", "thinking_pool"]
    fast = config.pools["fast_pool"]
    assert fast.task_groups == ["fast_group"]
    assert (fast.rotation_strategy, fast.health_check_interval) == ("round_robin", 30)
    assert (fast.failure_threshold, fast.recovery_time) == (3, 60)
    assert fast.fallback_config == PollingPoolFallbackConfig(
        strategy="instance_rotation", max_instance_attempts=2
    )
    assert fast.hedging is None
    thinking = config.pools["thinking_pool"]
    assert thinking.task_groups == ["thinking_group"]
    assert thinking.rotation_strategy == "least_busy"
    assert thinking.hedging is not None and thinking.hedging.delay == "p95"


def test_pool_loads_with_defaults(write: Write, load: Load) -> None:
    write("polling_pools/p.yaml", pool())
    loaded = load().pools["p"]
    assert loaded.description == ""
    assert loaded.rotation_strategy == "round_robin"
    assert (loaded.health_check_interval, loaded.health_check_path) == (30.0, "/models")
    assert (loaded.health_check_timeout, loaded.failure_threshold) == (5.0, 3)
    assert loaded.recovery_time == 60.0
    assert loaded.fallback_config == PollingPoolFallbackConfig()
    assert (loaded.fallback_config.strategy, loaded.fallback_config.max_instance_attempts) == (
        "instance_rotation",
        2,
    )
    assert loaded.hedging is None


def test_pool_may_take_one_echelon(write: Write, load: Load) -> None:
    write("polling_pools/p.yaml", pool(task_groups="fast_group.echelon2"))
    assert load().pools["p"].targets() == [FallbackTarget("fast_group", 2)]


def test_pool_files_may_end_in_yml(write: Write, load: Load) -> None:
    write("polling_pools/p.yml", pool())
    assert list(load().pools) == ["p"]


def test_hedging_defaults_and_numeric_delay(write: Write, load: Load) -> None:
    write("polling_pools/p.yaml", pool(extra="hedging: {delay: 0.25}\n"))
    assert load().pools["p"].hedging == HedgingConfig(
        delay=0.25, max_extra_attempts=1, min_samples=20, fallback_delay=1.0
    )


def test_hedging_delay_from_the_environment(write: Write, load: Load) -> None:
    write("polling_pools/p.yaml", pool(extra="hedging: {delay: '${HEDGE:-p95}'}\n"))
    assert load().pools["p"].hedging == HedgingConfig(delay="p95")
    assert load({"HEDGE": "2"}).pools["p"].hedging == HedgingConfig(delay=2.0)


def test_task_groups_may_hedge_too(write: Write, load: Load) -> None:
    write(
        "groups/fast_group.yaml",
        GROUP + "fallback_config: {hedging: {delay: p95, fallback_delay: 2}}\n",
    )
    hedging = load().groups["fast_group"].fallback_config.hedging
    assert hedging == HedgingConfig(delay="p95", fallback_delay=2)


def test_directory_without_polling_pools_loads(config_dir: Path, load: Load) -> None:
    (config_dir / "polling_pools").rmdir()
    assert load().pools == {}


def test_load_config_files_takes_pool_files(write: Write, registry: Path, config_dir: Path) -> None:
    group = config_dir / "groups" / "fast_group.yaml"
    path = write("polling_pools/p.yaml", pool())
    config = load_config_files(
        model_files=[registry], group_files=[group], pool_files=[str(path)], env={}
    )
    assert list(config.pools) == ["p"]


def test_unknown_rotation_strategy_lists_allowed_values(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(extra="rotation_strategy: fastest\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "rotation_strategy")
    assert found.message == (
        "unknown value 'fastest'; expected one of "
        "'round_robin', 'random', 'least_busy', 'weighted', 'least_loaded' or 'prefix_affinity'"
    )


def test_unknown_fallback_strategy_lists_allowed_values(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(extra="fallback_config: {strategy: echelon_down}\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback_config.strategy")
    assert found.message == (
        "unknown value 'echelon_down'; expected one of 'instance_rotation' or 'simple_retry'"
    )


def test_empty_task_groups_is_rejected(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(task_groups=""))
    found = issue()
    assert (found.file, found.path) == (str(path), "task_groups")
    assert found.message == "expected at least 1 item(s), got 0"


def test_missing_task_groups_is_rejected(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", "name: p\n")
    found = issue()
    assert (found.file, found.path, found.message) == (
        str(path),
        "task_groups",
        "required field is missing",
    )


def test_unknown_group_suggests_the_closest(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(task_groups="fast_group, fast_grup"))
    found = issue()
    assert (found.file, found.path) == (str(path), "task_groups[1]")
    assert found.message == (
        "unknown group 'fast_grup'; did you mean 'fast_group'? known groups: fast_group"
    )


def test_unknown_echelon_lists_the_group_echelons(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(task_groups="fast_group.echelon3"))
    found = issue()
    assert (found.file, found.path) == (str(path), "task_groups[0]")
    assert found.message == "group 'fast_group' has no echelon3; it has echelon1, echelon2"


def test_malformed_task_group_target_is_rejected(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(task_groups="fast_group.tier2"))
    found = issue()
    assert (found.file, found.path) == (str(path), "task_groups[0]")
    assert found.message == (
        "expected a target 'group' or 'group.echelonN' (N from 1), got 'fast_group.tier2'"
    )


@pytest.mark.parametrize(
    ("task_groups", "repeated", "earlier"),
    [
        ("fast_group, fast_group", "fast_group", 0),
        ("fast_group.echelon1, fast_group.echelon2, fast_group.echelon2", "fast_group.echelon2", 1),
        ("fast_group.echelon2, fast_group", "fast_group", 0),
    ],
)
def test_task_groups_may_not_repeat_instances(
    write: Write, issue: Issue, task_groups: str, repeated: str, earlier: int
) -> None:
    path = write("polling_pools/p.yaml", pool(task_groups=task_groups))
    found = issue()
    index = task_groups.count(",")
    assert (found.file, found.path) == (str(path), f"task_groups[{index}]")
    assert found.message.startswith(f"{repeated!r} repeats instances of ")
    assert found.message.endswith(f"at task_groups[{earlier}]; list each group or echelon once")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("health_check_interval", "0", "expected a number > 0, got 0"),
        ("health_check_interval", "-30", "expected a number > 0, got -30"),
        ("health_check_timeout", "0", "expected a number > 0, got 0"),
        ("failure_threshold", "0", "expected a number >= 1, got 0"),
        ("recovery_time", "-1", "expected a number > 0, got -1"),
        ("fallback_config", "{max_instance_attempts: 0}", "expected a number >= 1, got 0"),
        ("hedging", "{delay: 1, max_extra_attempts: 0}", "expected a number >= 1, got 0"),
        ("hedging", "{delay: 1, min_samples: 0}", "expected a number >= 1, got 0"),
        ("hedging", "{delay: 1, fallback_delay: 0}", "expected a number > 0, got 0"),
    ],
)
def test_out_of_range_values_are_rejected(
    write: Write, issue: Issue, field: str, value: str, message: str
) -> None:
    path = write("polling_pools/p.yaml", pool(extra=f"{field}: {value}\n"))
    found = issue()
    assert found.file == str(path)
    assert found.path.startswith(field)
    assert found.message == message


@pytest.mark.parametrize("path_text", ["models", "''", "health"])
def test_health_check_path_must_start_with_a_slash(
    write: Write, issue: Issue, path_text: str
) -> None:
    path = write("polling_pools/p.yaml", pool(extra=f"health_check_path: {path_text}\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "health_check_path")
    assert found.message.startswith("expected a path starting with '/' (relative to the instance")


@pytest.mark.parametrize(("delay", "got"), [("0", "0"), ("-1.5", "-1.5"), ("p90", "'p90'")])
def test_invalid_hedging_delay_is_one_issue(
    write: Write, issue: Issue, delay: str, got: str
) -> None:
    path = write("polling_pools/p.yaml", pool(extra=f"hedging: {{delay: {delay}}}\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "hedging.delay")
    assert found.message == f"expected a number of seconds > 0 or 'p95', got {got}"


def test_hedging_needs_a_delay(write: Write, issue: Issue) -> None:
    write("polling_pools/p.yaml", pool(extra="hedging: {max_extra_attempts: 2}\n"))
    found = issue()
    assert (found.path, found.message) == ("hedging.delay", "required field is missing")


def test_invalid_group_hedging_delay_names_its_path(write: Write, issue: Issue) -> None:
    path = write("groups/fast_group.yaml", GROUP + "fallback_config: {hedging: {delay: soon}}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback_config.hedging.delay")


def test_unknown_key_lists_allowed_fields(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(extra="rotation: random\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "rotation")
    assert found.message == (
        "unknown field 'rotation'; allowed fields: name, description, task_groups, "
        "rotation_strategy, metrics_interval, waiting_weight, load_factor, affinity_prefix_chars, "
        "health_check_interval, health_check_path, health_check_timeout, "
        "failure_threshold, recovery_time, fallback_config, hedging, cache, offline_fallback"
    )


def test_unknown_nested_key_lists_allowed_fields(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(extra="hedging: {delay: p95, extra: 2}\n"))
    found = issue()
    assert (found.file, found.path) == (str(path), "hedging.extra")
    assert found.message == (
        "unknown field 'extra'; allowed fields: "
        "delay, max_extra_attempts, min_samples, fallback_delay"
    )


def test_pool_name_with_a_dot_is_rejected(write: Write, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(name="fast.pool"))
    found = issue()
    assert (found.file, found.path) == (str(path), "name")
    assert "without dots or spaces" in found.message


def test_two_files_defining_the_same_pool(write: Write, issue: Issue) -> None:
    first = write("polling_pools/a.yaml", pool(name="shared"))
    second = write("polling_pools/b.yaml", pool(name="shared"))
    found = issue()
    assert (found.file, found.path) == (str(second), "name")
    assert found.message == (
        f"pool 'shared' is already defined in {first}; pool names must be unique"
    )


def test_pool_named_like_a_group_is_rejected(write: Write, config_dir: Path, issue: Issue) -> None:
    path = write("polling_pools/p.yaml", pool(name="fast_group"))
    found = issue()
    assert (found.file, found.path) == (str(path), "name")
    assert found.message == (
        "pool 'fast_group' has the same name as the group defined in "
        f"{config_dir / 'groups' / 'fast_group.yaml'}; wrappers are named '<name>_wrapper', "
        "so both would be 'fast_group_wrapper'; rename the pool"
    )


def test_invalid_group_is_not_reported_again_by_its_pool(write: Write, issue: Issue) -> None:
    group = write("groups/fast_group.yaml", "name: fast_group\nechelon1: {models: []}\n")
    write("polling_pools/p.yaml", pool(task_groups="fast_group.echelon2"))
    found = issue()
    assert (found.file, found.path) == (str(group), "echelon1.models")


def test_issues_across_pool_files_are_raised_together(write: Write, issues: Issues) -> None:
    broken = write("polling_pools/a.yaml", "name: a\ntask_groups: [fast_group\n")
    dangling = write("polling_pools/b.yaml", pool(name="b", task_groups="slow_group"))
    invalid = write("polling_pools/c.yaml", pool(name="c", extra="recovery_time: 0\n"))
    assert [(i.file, i.path) for i in issues()] == [
        (str(broken), ""),
        (str(invalid), "recovery_time"),
        (str(dangling), "task_groups[0]"),
    ]
