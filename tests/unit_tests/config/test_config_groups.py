"""Task group files: echelon collection, field validation and the paths errors report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infrastructure.llm.config import (
    EchelonConfig,
    FallbackConfig,
    FallbackTarget,
    LLMConfig,
    TaskGroupConfig,
    load_config_dir,
)
from infrastructure.llm.errors import ConfigError, ConfigIssue

Write = Callable[[str, str], Path]
Issue = Callable[..., ConfigIssue]
Issues = Callable[..., list[ConfigIssue]]
Load = Callable[..., LLMConfig]


@pytest.fixture(autouse=True)
def _registry(registry: Path) -> None:
    """Every test here has models `alpha` and `beta` available."""


def test_group_loads_with_defaults(write: Write, load: Load) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        description: two tiers
        echelon2:
          models: [beta]
        echelon1:
          models: [alpha, beta]
          spill_over: true
        """,
    )
    group = load().groups["g"]
    assert group.echelon_names() == ["echelon1", "echelon2"]
    assert [number for number, _ in group.ordered_echelons()] == [1, 2]
    first = group.echelons[1]
    assert (first.timeout, first.max_retries, first.spill_over) == (30.0, 2, True)
    assert group.fallback_config == FallbackConfig()
    breaker = group.fallback_config.circuit_breaker
    assert (breaker.failure_threshold, breaker.recovery_time, breaker.half_open_requests) == (
        5,
        60.0,
        1,
    )


def test_unknown_strategy_lists_allowed_values(write: Write, issue: Issue) -> None:
    path = write(
        "groups/g.yaml",
        """
        name: g
        echelon1: {models: [alpha]}
        fallback_config: {strategy: round_robin}
        """,
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback_config.strategy")
    assert found.message == (
        "unknown value 'round_robin'; expected one of "
        "'echelon_down', 'task_group_switch' or 'provider_failover'"
    )


def test_echelon_with_empty_models_is_rejected(write: Write, issue: Issue) -> None:
    path = write("groups/g.yaml", "name: g\nechelon1: {models: []}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon1.models")
    assert found.message == "expected at least 1 item(s), got 0"


def test_echelon_without_models_key_is_rejected(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {timeout: 5}\n")
    found = issue()
    assert (found.path, found.message) == ("echelon1.models", "required field is missing")


def test_empty_model_name_is_rejected(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha, '']}\n")
    found = issue()
    assert (found.path, found.message) == ("echelon1.models[1]", "expected a non-empty string")


def test_model_listed_twice_in_an_echelon_is_rejected(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha, beta, alpha]}\n")
    found = issue()
    assert (found.path, found.message) == (
        "echelon1.models[2]",
        "model 'alpha' is already listed at models[0]",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timeout", "-1", "expected a number > 0, got -1"),
        ("concurrency_limit", "0", "expected a number >= 1, got 0"),
        ("rpm_limit", "-5", "expected a number >= 1, got -5"),
        ("max_retries", "-1", "expected a number >= 0, got -1"),
        ("temperature", "2.5", "expected a number <= 2, got 2.5"),
        ("max_tokens", "0", "expected a number >= 1, got 0"),
        ("first_chunk_timeout", "0", "expected a number > 0, got 0"),
    ],
)
def test_out_of_range_echelon_values_are_rejected(
    write: Write, issue: Issue, field: str, value: str, message: str
) -> None:
    path = write(
        "groups/g.yaml",
        f"name: g\nechelon1: {{models: [alpha]}}\nechelon2: {{models: [beta], {field}: {value}}}\n",
    )
    found = issue()
    assert (found.file, found.path, found.message) == (str(path), f"echelon2.{field}", message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_attempts", "0", "expected a number >= 1, got 0"),
        ("retry_delay", "-1", "expected a number >= 0, got -1"),
        ("deadline", "0", "expected a number > 0, got 0"),
        ("circuit_breaker", "{failure_threshold: 0}", "expected a number >= 1, got 0"),
        ("circuit_breaker", "{recovery_time: -3}", "expected a number > 0, got -3"),
        ("circuit_breaker", "{half_open_requests: 0}", "expected a number >= 1, got 0"),
    ],
)
def test_out_of_range_fallback_values_are_rejected(
    write: Write, issue: Issue, field: str, value: str, message: str
) -> None:
    write(
        "groups/g.yaml",
        f"name: g\nechelon1: {{models: [alpha]}}\nfallback_config: {{{field}: {value}}}\n",
    )
    found = issue()
    assert found.path.startswith(f"fallback_config.{field}")
    assert found.message == message


def test_wrong_type_says_what_was_expected_and_got(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], timeout: fast}\n")
    found = issue()
    assert found.path == "echelon1.timeout"
    assert (
        found.message == "expected a valid number, unable to parse string as a number, got 'fast'"
    )


def test_models_given_as_text_instead_of_list(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: alpha}\n")
    found = issue()
    assert (found.path, found.message) == ("echelon1.models", "expected a valid list, got 'alpha'")


def test_unknown_top_level_key_names_key_and_allowed_keys(write: Write, issue: Issue) -> None:
    path = write("groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\nfallback: {}\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "fallback")
    assert found.message == (
        "unknown top-level key 'fallback'; "
        "allowed: name, description, echelon1, echelon2, ..., fallback_config, cache, "
        "offline_fallback"
    )


def test_echelon_zero_is_an_unknown_key(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon0: {models: [alpha]}\nechelon1: {models: [alpha]}\n")
    assert issue().path == "echelon0"


def test_unknown_nested_key_lists_allowed_fields(write: Write, issue: Issue) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        echelon1: {models: [alpha]}
        fallback_config: {circuit_breaker: {threshold: 2}}
        """,
    )
    found = issue()
    assert found.path == "fallback_config.circuit_breaker.threshold"
    assert found.message == (
        "unknown field 'threshold'; allowed fields: "
        "failure_threshold, recovery_time, half_open_requests"
    )


def test_unknown_echelon_field_lists_allowed_fields(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], rpm: 3}\n")
    found = issue()
    assert found.path == "echelon1.rpm"
    assert found.message.startswith(
        "unknown field 'rpm'; allowed fields: models, concurrency_limit"
    )


def test_gap_in_echelon_numbering_names_the_missing_echelon(write: Write, issue: Issue) -> None:
    path = write(
        "groups/g.yaml", "name: g\nechelon1: {models: [alpha]}\nechelon3: {models: [beta]}\n"
    )
    found = issue()
    assert (found.file, found.path) == (str(path), "echelon2")
    assert found.message == (
        "echelon2 is missing; echelons are numbered from echelon1 without gaps "
        "(found echelon1, echelon3)"
    )


def test_group_without_echelons_is_rejected(write: Write, issue: Issue) -> None:
    path = write("groups/g.yaml", "name: g\ndescription: nothing to call\n")
    found = issue()
    assert (found.file, found.path) == (str(path), "")
    assert found.message == "a task group needs at least one echelon, starting with echelon1"


def test_group_without_name_is_rejected(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "echelon1: {models: [alpha]}\n")
    found = issue()
    assert (found.path, found.message) == ("name", "required field is missing")


def test_group_name_with_a_dot_is_rejected(write: Write, issue: Issue) -> None:
    write("groups/g.yaml", "name: fast.group\nechelon1: {models: [alpha]}\n")
    found = issue()
    assert found.path == "name"
    assert "without dots or spaces" in found.message


def test_bad_target_syntax_is_rejected(write: Write, issue: Issue) -> None:
    write(
        "groups/g.yaml",
        "name: g\nechelon1: {models: [alpha]}\nfallback_config: {fallback_groups: [g.tier2]}\n",
    )
    found = issue()
    assert found.path == "fallback_config.fallback_groups[0]"
    assert found.message == (
        "expected a target 'group' or 'group.echelonN' (N from 1), got 'g.tier2'"
    )


def test_task_group_switch_needs_targets(write: Write, issue: Issue) -> None:
    write(
        "groups/g.yaml",
        "name: g\nechelon1: {models: [alpha]}\nfallback_config: {strategy: task_group_switch}\n",
    )
    found = issue()
    assert found.path == "fallback_config.fallback_groups"
    assert "needs at least one fallback target" in found.message


def test_every_issue_in_a_file_is_reported(write: Write, issues: Issues) -> None:
    write(
        "groups/g.yaml",
        """
        name: g
        colour: red
        echelon1: {models: [], timeout: 0}
        fallback_config: {strategy: sideways}
        """,
    )
    assert sorted(issue.path for issue in issues()) == [
        "colour",
        "echelon1.models",
        "echelon1.timeout",
        "fallback_config.strategy",
    ]


def test_error_text_names_file_path_and_expectation(write: Write, config_dir: Path) -> None:
    path = write("groups/g.yaml", "name: g\nechelon1: {models: [alpha], timeout: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_dir(config_dir, env={})
    assert str(caught.value) == (
        f"invalid LLM configuration: {path}: echelon1.timeout: expected a number > 0, got -1"
    )


def test_fallback_targets_parse_and_print() -> None:
    config = FallbackConfig(fallback_groups=["other", "g.echelon2"])
    assert config.targets() == [FallbackTarget("other"), FallbackTarget("g", 2)]
    assert [str(target) for target in config.targets()] == ["other", "g.echelon2"]


@pytest.mark.parametrize("text", ["", "g.echelon0", "g.echelon", "a.b.echelon1", "g h"])
def test_malformed_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a target"):
        FallbackTarget.parse(text)


def test_group_can_be_built_in_code() -> None:
    group = TaskGroupConfig(
        name="g",
        echelons={2: EchelonConfig(models=["b"]), 1: EchelonConfig(models=["a"])},
    )
    assert [echelon.models for _, echelon in group.ordered_echelons()] == [["a"], ["b"]]
